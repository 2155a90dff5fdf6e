// Preloaded into each CLI process the bench starts (NODE_OPTIONS=--import): its peak RSS, on fd 3.
import { writeSync } from 'node:fs';

process.on('exit', () => writeSync(3, JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }) + '\n'));
