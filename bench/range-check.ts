/**
 * Part 3b: a Range request for 1 MB in the middle of the 20 MB pattern file. RFC 9110 §14.2: a server that
 * supports ranges answers 206 with exactly the selected bytes (§15.3.7, Content-Range). The origin's own
 * access log says how many body bytes it sent upstream of the subject, so a proxy that fetched the whole
 * file and cut it locally is caught even when its answer to the client looks right.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import { patternBytes } from '../test/support/hls-fixtures.js';
import { linesSince, logMark, parseCombined } from './nginx-servers.js';
import type { Subject } from './subjects.js';

export interface RangeResult {
  status: number;
  contentRange: string | undefined;
  bodyBytes: number;
  bodyMatches: boolean;
  /** Body bytes the origin sent for this request (from its access log). */
  originBytes: number;
  originStatus: number | undefined;
  ok: boolean;
}

export const RANGE = { start: 5_000_000, end: 5_999_999 } as const;

export async function rangeCheck(subject: Subject, filePath: string, fileSize: number, rangeLog: string): Promise<RangeResult> {
  const mark = await logMark(rangeLog);
  const res = await request(subject.url(filePath), { headers: { range: `bytes=${RANGE.start}-${RANGE.end}` } });
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  const contentRange = res.headers['content-range'];
  // nginx writes the access-log line when the request ends; the proxy's upstream request may end just after
  // the client's response does.
  let lines: string[] = [];
  for (let i = 0; i < 20 && lines.length === 0; i++) {
    await delay(100);
    lines = await linesSince(rangeLog, mark);
  }
  const entries = lines.map(parseCombined).filter((e) => e !== undefined);
  const originBytes = entries.reduce((sum, e) => sum + e.bytes, 0);
  const want = RANGE.end - RANGE.start + 1;
  const bodyMatches = body.length === want && body.equals(patternBytes(RANGE.start, RANGE.end));
  const cr = typeof contentRange === 'string' ? contentRange : undefined;
  return {
    status: res.statusCode,
    contentRange: cr,
    bodyBytes: body.length,
    bodyMatches,
    originBytes,
    originStatus: entries[0]?.status,
    ok: res.statusCode === 206 && cr === `bytes ${RANGE.start}-${RANGE.end}/${fileSize}` && bodyMatches && originBytes <= want,
  };
}
