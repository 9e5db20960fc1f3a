// Public surface of the data stage (filled in as the stage lands).
export {};
