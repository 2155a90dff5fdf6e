import { readFileSync } from 'node:fs';
import { parseDocument, Lexer } from 'yaml';
const text = readFileSync(process.argv[2], 'utf8');
let t = performance.now();
if (process.argv[3] === 'lex') { let n = 0; for (const tok of new Lexer().lex(text)) n++; console.log('lex', n, Math.round(performance.now() - t)); }
else {
const doc = parseDocument(text, { uniqueKeys: false });
const js = doc.toJS({ maxAliasCount: 100 });
console.log('parse+toJS', Math.round(performance.now() - t), 'ms', Math.round(process.memoryUsage().rss / 1e6), 'MB');
}
