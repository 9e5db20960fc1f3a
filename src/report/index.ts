// Public surface of the report stage (filled in as the stage lands).
export {};
