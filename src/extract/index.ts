// Public surface of the extract stage (filled in as the stage lands).
export {};
