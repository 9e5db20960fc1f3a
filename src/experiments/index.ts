// Public surface of the experiments stage (filled in as the stage lands).
export {};
