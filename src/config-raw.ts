import { readFileSync } from 'node:fs';

/**
 * Reading raw option values (from yargs: flags, env, --config file) into typed values, and the error that
 * names the option. Used by config.ts only; split out so each file keeps one concern.
 */

export class ConfigError extends Error {
  constructor(readonly option: string, message: string) {
    super(`--${option}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type Raw = Record<string, unknown>;

export function num(raw: Raw, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = raw[name];
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

export function str(raw: Raw, name: string): string | undefined {
  const v = raw[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(name, 'expected a string');
  return String(v);
}

export function bool(raw: Raw, name: string): boolean {
  const v = raw[name];
  if (v === undefined || v === null || v === '') return false;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ConfigError(name, `expected true or false, got ${JSON.stringify(v)}`);
}

/**
 * Arrays come from repeated flags, JSON arrays, or comma-separated values (how env vars carry lists).
 * `--header` values may contain commas themselves, so they are never split.
 */
export function list(raw: Raw, name: string): string[] {
  const v = raw[name];
  if (v === undefined || v === null || v === '') return [];
  const items = (Array.isArray(v) ? v : [v]).map(String);
  const split = name === 'header' ? items : items.flatMap((s) => s.split(','));
  return split.map((s) => s.trim()).filter((s) => s !== '');
}

export function readText(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(name, `cannot read ${path}: ${(err as Error).message}`);
  }
}

function parseHeaderLine(line: string): [string, string] {
  const m = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*[:=]\s*(.*)$/.exec(line);
  if (!m || /[\r\n\0]/.test(m[2]!)) throw new ConfigError('header', `expected "name: value", got ${JSON.stringify(line)}`);
  return [m[1]!.toLowerCase(), m[2]!.trim()];
}

export function upstreamHeaders(raw: Raw): Record<string, string> {
  const headers: Record<string, string> = {};
  const file = str(raw, 'req-headers');
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readText('req-headers', file));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError('req-headers', `${file} is not valid JSON`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError('req-headers', `${file} must hold a JSON object of header names to values`);
    }
    for (const [k, v] of Object.entries(parsed)) {
      const [name, value] = parseHeaderLine(`${k}: ${String(v)}`);
      headers[name] = value;
    }
  }
  for (const [flag, name] of [['origin', 'origin'], ['referer', 'referer'], ['useragent', 'user-agent']] as const) {
    const v = str(raw, flag);
    if (v !== undefined) headers[name] = parseHeaderLine(`${name}: ${v}`)[1];
  }
  for (const line of list(raw, 'header')) {
    const [name, value] = parseHeaderLine(line);
    headers[name] = value;
  }
  return headers;
}

