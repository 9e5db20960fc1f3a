// Public surface of the model stage (filled in as the stage lands).
export {};
