// Public surface of the formats stage (filled in as the stage lands).
export {};
