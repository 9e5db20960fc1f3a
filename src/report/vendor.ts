/** The browser builds of vega, vega-lite and vega-embed, read from node_modules to be inlined in the report. */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** A file inside an installed package, found from the package's entry point (their `exports` hide package.json). */
export function packageFile(pkg: string, relPath: string): string {
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === pkg)
      return join(dir, relPath);
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`package root of ${pkg} not found`);
    dir = parent;
  }
}

let cached: string[] | undefined;

/** vega, vega-lite, vega-embed minified builds, in load order. */
export function vendorScripts(): string[] {
  cached ??= [
    packageFile('vega', 'build/vega.min.js'),
    packageFile('vega-lite', 'build/vega-lite.min.js'),
    packageFile('vega-embed', 'build/vega-embed.min.js'),
  ].map((path) => readFileSync(path, 'utf8'));
  return cached;
}
