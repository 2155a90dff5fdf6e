#!/usr/bin/env node
// Runs the built CLI (dist/, made by `npm run build`, which `npm ci` runs through `prepare`).
import { assertSupportedNode } from './supported-node.js';

assertSupportedNode();
const { main } = await import('../dist/cli.js');
process.exitCode = await main(process.argv.slice(2));
