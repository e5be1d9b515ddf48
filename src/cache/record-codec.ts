import type { StoredRecord } from './store.js';
import type { CachedPlaylist } from './types.js';

/**
 * The Redis wire form of a stored record: versioned JSON. Anything that does not decode to a well-formed
 * record (another version's layout, a foreign writer, truncation) is treated as absent — a miss, never a
 * crash or a malformed reply to a viewer.
 */

const VERSION = 1;

interface Wire {
  v: number;
  e: CachedPlaylist;
  r?: number;
  f?: CachedPlaylist;
}

export function encodeRecord(record: StoredRecord): string {
  const wire: Wire = { v: VERSION, e: record.entry };
  if (record.retryAfter !== undefined) wire.r = record.retryAfter;
  if (record.failure !== undefined) wire.f = record.failure;
  return JSON.stringify(wire);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function toEntry(raw: unknown): CachedPlaylist | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const e = raw as Record<string, unknown>;
  if (!isNum(e.status) || !isStr(e.body) || !isStr(e.finalUrl) || !isStr(e.contentType)) return undefined;
  if (!isNum(e.fetchedAt) || !isNum(e.ttlMs) || (e.errorCode !== undefined && !isStr(e.errorCode))) return undefined;
  const entry: CachedPlaylist = {
    status: e.status,
    body: e.body,
    finalUrl: e.finalUrl,
    contentType: e.contentType,
    fetchedAt: e.fetchedAt,
    ttlMs: e.ttlMs,
  };
  if (e.errorCode !== undefined) entry.errorCode = e.errorCode;
  return Object.freeze(entry);
}

export function decodeRecord(text: string | null): StoredRecord | undefined {
  if (text === null) return undefined;
  let wire: unknown;
  try {
    wire = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!wire || typeof wire !== 'object') return undefined;
  const w = wire as Partial<Record<keyof Wire, unknown>>;
  if (w.v !== VERSION) return undefined;
  const entry = toEntry(w.e);
  if (!entry) return undefined;
  if (w.r !== undefined && !isNum(w.r)) return undefined;
  const failure = w.f === undefined ? undefined : toEntry(w.f);
  if (w.f !== undefined && (failure === undefined || failure.errorCode === undefined)) return undefined;
  const record: StoredRecord = { entry };
  if (w.r !== undefined) record.retryAfter = w.r;
  if (failure !== undefined) record.failure = failure;
  return record;
}
