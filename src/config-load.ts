// From a file name to a validated Config, with every step bounded: the file (regular files only,
// at most 4 MB, read with a cap), the text (UTF-8 without control characters), the YAML (alias
// expansion capped, nesting capped, duplicate keys found in one linear pass), then the schema in
// config.ts, which reports every problem at once. Whatever goes wrong is a ConfigError whose
// problems each start with the file or the key path; nothing else is thrown.
import { isAlias, isMap, isScalar, isSeq, Lexer, LineCounter, parseDocument, type Node } from 'yaml';
import { parseConfig, type Config, type ParseOptions } from './config.ts';
import { ConfigError, formatPath } from './config-problems.ts';
import { rememberConfigFile } from './config-file.ts';
import { readLocalFile } from './net/local-file.ts';

/** No config is this big (2,000 dialers take 80 KB); past it the file is refused unread. Not configurable. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/**
 * Keys and values a config may hold: 2,000 dialers are 2,100. Parsing costs about 40 µs and 3 KB a
 * value, so this keeps the worst config near 2 s and 150 MB; a larger fleet is listed through
 * targets.zones (Route 53), not by name.
 */
export const MAX_CONFIG_VALUES = 50_000;
/** yaml's guard against "billion laughs": how far aliases may multiply the document. */
const MAX_ALIAS_COUNT = 100;
/** Deeper than any real config; bounds the recursion of everything that walks the parsed object. */
const MAX_DEPTH = 64;

const decoder = new TextDecoder('utf-8', { fatal: true });
/** C0 controls except tab, LF and CR; DEL; C1 except NEL: YAML 1.2 §5.1 does not allow them. */
const NOT_YAML_TEXT = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x84\x86-\x9f]/;

/** The config file's text; a ConfigError naming the file when it is not a readable, small, text file. */
export async function readConfigFile(file: string): Promise<string> {
  const read = await readLocalFile(file, MAX_CONFIG_BYTES);
  if (!read.ok) {
    if (read.reason === 'not-regular') throw new ConfigError([`${file}: ${read.detail}; --config takes the config file itself`]);
    if (read.reason === 'too-big') throw new ConfigError([`${file}: ${read.detail} a config file may have`]);
    throw new ConfigError([`${file}: cannot read the config file (${read.detail})`]);
  }
  let text: string;
  try {
    text = decoder.decode(read.bytes);
  } catch {
    throw new ConfigError([`${file}: not a text file (it is not UTF-8)`]);
  }
  return text;
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** Scalars in the text, counted by yaml's lexer (cheap, no tree) and only up to `max` + 1. */
function countValues(text: string, max: number): number {
  let count = 0;
  for (const token of new Lexer().lex(text)) {
    // The lexer marks plain and block scalars with \x1f; quoted ones stand alone.
    if (token === '\x1f' || token[0] === '"' || token[0] === "'") count++;
    if (count > max) break;
  }
  return count;
}

interface Walked {
  node: Node | null | undefined;
  path: PropertyKey[];
  depth: number;
}

/**
 * Duplicate keys and nesting depth in one pass over the parsed document (yaml's own `uniqueKeys`
 * compares every key with every other: minutes for a map of 50,000 keys). Aliases are not
 * followed: what they expand to is bounded by MAX_ALIAS_COUNT.
 */
function structureProblems(contents: Node | null, lines: LineCounter): string[] {
  const problems: string[] = [];
  const lineAt = (node: Node | null | undefined) => (node?.range ? lines.linePos(node.range[0]).line : undefined);
  const stack: Walked[] = [{ node: contents, path: [], depth: 0 }];
  while (stack.length > 0) {
    const { node, path, depth } = stack.pop()!;
    if (!node || isAlias(node) || isScalar(node)) continue;
    if (depth > MAX_DEPTH) {
      problems.push(`${formatPath(path)}: nested deeper than ${MAX_DEPTH} levels`);
      continue;
    }
    if (isSeq(node)) {
      node.items.forEach((item, i) => stack.push({ node: item as Node, path: [...path, i], depth: depth + 1 }));
    } else if (isMap(node)) {
      const seen = new Map<string, number | undefined>();
      for (const pair of node.items) {
        const key = pair.key as Node | null;
        const name = isScalar(key) ? String(key.value) : undefined;
        if (name !== undefined) {
          if (seen.has(name)) {
            const first = seen.get(name);
            problems.push(`${formatPath([...path, name])}: duplicate key${first !== undefined ? ` (line ${first} and line ${lineAt(key)})` : ''}; map keys must be unique`);
          } else seen.set(name, lineAt(key));
        }
        stack.push({ node: pair.value as Node | null, path: [...path, name ?? '?'], depth: depth + 1 });
      }
    }
  }
  return problems;
}

/** YAML text → plain object (not yet validated); every problem names the source, a line or a key path. */
export function parseConfigYaml(text: string, sourceName = 'config'): unknown {
  const control = NOT_YAML_TEXT.exec(text);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).padStart(2, '0');
    throw new ConfigError([`${sourceName}: line ${lineOf(text, control.index)}: a control character (\\x${code}); a config is YAML text`]);
  }
  const lines = new LineCounter();
  let value: unknown;
  try {
    if (countValues(text, MAX_CONFIG_VALUES) > MAX_CONFIG_VALUES) {
      throw new ConfigError([`${sourceName}: more than ${MAX_CONFIG_VALUES.toLocaleString('en-US')} keys and values; list a fleet this large through targets.zones (Route 53)`]);
    }
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: false, lineCounter: lines });
    if (doc.errors.length > 0) throw new ConfigError([...new Set(doc.errors.map((e) => `${sourceName}: ${e.message.split('\n')[0]}`))]);
    const structure = structureProblems(doc.contents as Node | null, lines);
    if (structure.length > 0) throw new ConfigError(structure.map((p) => `${sourceName}: ${p}`));
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // yaml throws a ReferenceError for an alias bomb; a RangeError when nesting exhausts the stack.
    if (err instanceof ReferenceError && /excessive alias count/i.test(err.message)) {
      throw new ConfigError([`${sourceName}: YAML aliases expand too far (more than ${MAX_ALIAS_COUNT} copies); write the values out`]);
    }
    if (err instanceof RangeError) throw new ConfigError([`${sourceName}: nested too deeply to read`]);
    throw new ConfigError([`${sourceName}: ${(err as Error).message.split('\n')[0]}`]);
  }
  return value;
}

/** YAML text → validated Config. */
export function parseConfigText(text: string, sourceName = 'config', opts: ParseOptions = {}): Config {
  return parseConfig(parseConfigYaml(text, sourceName), opts);
}

/** The config file → validated Config (validate, audit; the daemon and Lambda use config-source.ts). */
export async function loadConfig(file: string): Promise<Config> {
  const config = parseConfigText(await readConfigFile(file), file);
  rememberConfigFile(config, file);
  return config;
}
