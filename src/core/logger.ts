/**
 * JSON-lines logger on stderr. stdout belongs to JSON-RPC, so nothing here may ever write there.
 * Every line passes through redaction: any configured secret value is replaced wherever it appears.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** Lowest level written. Default `info`. */
  level?: LogLevel;
  /** Secret values to mask in every line. Values shorter than 4 characters are ignored. */
  secrets?: readonly string[];
  /**
   * The redactor every line passes through; the composition root gives the safety layer's
   * (values and credential shapes). Default: masks `secrets` only.
   */
  redact?: (text: string) => string;
  /** Where lines go. Default: `process.stderr`. */
  write?: (line: string) => void;
  /** Fields on every line. */
  base?: Record<string, unknown>;
  now?: () => number;
}

export function createRedactor(secrets: readonly string[]): (text: string) => string {
  const values = [...new Set(secrets.filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
  if (values.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const value of values) if (out.includes(value)) out = out.split(value).join('[REDACTED]');
    return out;
  };
}

function serialiseError(value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code ? { code } : {}), stack: value.stack };
  }
  return value;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const redact = options.redact ?? createRedactor(options.secrets ?? []);
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const now = options.now ?? Date.now;

  const make = (base: Record<string, unknown>): Logger => {
    const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
      if (LEVELS[level] < threshold) return;
      const record: Record<string, unknown> = { time: new Date(now()).toISOString(), level, msg, ...base };
      if (fields) for (const [k, v] of Object.entries(fields)) record[k] = serialiseError(v);
      let line: string;
      try {
        line = JSON.stringify(record);
      } catch {
        line = JSON.stringify({ time: record.time, level, msg, note: 'fields not serialisable' });
      }
      try {
        write(redact(line) + '\n');
      } catch {
        // A closed stderr must not take the server down.
      }
    };
    return {
      debug: (m, f) => log('debug', m, f),
      info: (m, f) => log('info', m, f),
      warn: (m, f) => log('warn', m, f),
      error: (m, f) => log('error', m, f),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(options.base ?? {});
}

/** A logger that drops everything (for tests that do not look at logs). */
export const silentLogger: Logger = createLogger({ level: 'error', write: () => {} });
