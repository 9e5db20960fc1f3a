// Public surface of the store stage (filled in as the stage lands).
export {};
