// Logging to stderr: human lines on a terminal, one JSON object per line otherwise (Lambda, daemon).
import { sanitizeDeep, sanitizeText } from './report/sanitize.ts';
import type { Logger } from './types.ts';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

export interface LoggerOptions {
  json?: boolean;
  level?: Level;
  write?: (line: string) => void;
  /** Fields on every line, e.g. the run id. */
  base?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const envLevel = process.env.DIALER_AUDIT_LOG_LEVEL as Level | undefined;
  const min = LEVELS[opts.level ?? (envLevel && envLevel in LEVELS ? envLevel : 'info')];
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const json = opts.json ?? !process.stderr.isTTY;
  const emit = (level: Level, unsafeMsg: string, unsafeFields?: Record<string, unknown>) => {
    if (LEVELS[level] < min) return;
    // Log lines quote servers (errors, findings): their control characters are shown, not obeyed.
    const msg = sanitizeText(unsafeMsg);
    const fields = unsafeFields && sanitizeDeep(unsafeFields);
    if (json) {
      write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...opts.base, ...fields }));
    } else {
      const extra = fields && Object.keys(fields).length ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') : '';
      write(`${level === 'info' ? '' : level.toUpperCase() + ': '}${msg}${extra}`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
