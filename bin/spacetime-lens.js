#!/usr/bin/env node
// Thin launcher: the CLI lives in the library (dist/src/cli/main.js after `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('spacetime-lens: not built yet; run `npm run build` in the package directory first.');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
