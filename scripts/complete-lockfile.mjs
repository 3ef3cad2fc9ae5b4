#!/usr/bin/env node
// The npm registry reachable here has no macOS/Windows/arm builds of
// msgpackr-extract, so `npm install` leaves them out of package-lock.json and
// `npm ci` then refuses the lock ("Missing: ... from lock file"). This adds
// them as optional, platform-tagged entries without a tarball: on Linux x64
// npm skips them by os/cpu and never fetches them. Idempotent; run it after
// regenerating the lock: `node scripts/complete-lockfile.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [key, pkg] of Object.entries(packages)) {
  for (const dep of Object.keys(pkg.optionalDependencies ?? {})) {
    const depKey = `node_modules/${dep}`;
    if (packages[depKey] !== undefined || !dep.startsWith('@msgpackr-extract/')) continue;
    const platform = /msgpackr-extract-(\w+)-(\w+)$/.exec(dep);
    if (platform === null) continue;
    packages[depKey] = { version: pkg.optionalDependencies[dep], cpu: [platform[2]], license: 'MIT', optional: true, os: [platform[1]] };
    added++;
    console.log(`added ${depKey} (required by ${key || 'the root'})`);
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(path, JSON.stringify(lock, null, 2) + '\n');
console.log(`${added} entr${added === 1 ? 'y' : 'ies'} added`);
