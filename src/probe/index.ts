// Public surface of the probe stage (filled in as the stage lands).
export {};
