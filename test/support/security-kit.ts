/**
 * Helpers for the security suites (issue #5): a tiny playlist tree, a raw HTTP/1.1 client (for requests no
 * well-behaved client sends), a table resolver and a minimal UDP DNS server for DNS-rebinding tests.
 * Everything binds to 127.0.0.x.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostResolver, ResolvedAddress } from '../../src/security/pinned-lookup.js';
import { removeOnExit } from './processes.js';

export const MEDIA_PLAYLIST = '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:4,\nseg0.ts\n#EXTINF:4,\nseg1.ts\n#EXT-X-ENDLIST\n';

/** A directory with ok.m3u8, ok2.m3u8, seg0.ts, seg1.ts (188-byte "segments"), removed at exit. */
export function makeSecurityRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'hls-sidecar-sec-'));
  removeOnExit(root);
  mkdirSync(join(root, 'sub'));
  for (const name of ['ok.m3u8', 'ok2.m3u8', 'sub/ok.m3u8']) writeFileSync(join(root, name), MEDIA_PLAYLIST);
  for (const name of ['seg0.ts', 'seg1.ts']) writeFileSync(join(root, name), Buffer.alloc(188, 0x47));
  return root;
}

/** Token path for an upstream URL (URL-safe base64, as the proxy emits): `/<b64url>.<ext>`. */
export function tokenPath(upstream: string, ext = 'm3u8'): string {
  return `/${Buffer.from(upstream, 'utf8').toString('base64url')}.${ext}`;
}

export interface RawResponse {
  /** Everything the server sent before closing (or before the timeout). */
  text: string;
  status: number | undefined;
  closedByServer: boolean;
}

/** Sends `data` verbatim on a fresh connection and reads until the server closes it (or timeoutMs). */
export function rawRequest(port: number, data: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => {
      closedByServer = true;
      socket.end();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      resolve({ text, status: m ? Number(m[1]) : undefined, closedByServer });
    });
    socket.write(data);
  });
}

/** A resolver answering from a table (unknown names: ENOTFOUND), recording every name asked. */
export function tableResolver(table: Record<string, string[]>): HostResolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
    asked.push(hostname);
    const answers = table[hostname.toLowerCase()];
    if (!answers) throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { asked });
}

export interface DnsServer {
  port: number;
  /** Names asked so far, one entry per A query. */
  queries: string[];
  close(): Promise<void>;
}

/**
 * A DNS server (RFC 1035 §4.1) that answers A queries with `answer(name, n)` (n = how many A queries for that
 * name came before), TTL 0, and every other type with an empty answer. Just enough for node's Resolver.
 */
export async function startDnsServer(answer: (name: string, n: number) => string[]): Promise<DnsServer> {
  const socket = createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    let i = 12;
    const labels: string[] = [];
    while (i < msg.length && msg[i]! !== 0) {
      const len = msg[i]!;
      labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'));
      i += len + 1;
    }
    const qEnd = i + 5; // zero octet + QTYPE + QCLASS
    if (qEnd > msg.length) return;
    const qtype = msg.readUInt16BE(i + 1);
    const name = labels.join('.').toLowerCase();
    const addresses = qtype === 1 ? answer(name, queries.filter((q) => q === name).length) : [];
    if (qtype === 1) queries.push(name);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0); // ID
    header.writeUInt16BE(0x8180, 2); // QR, RD, RA, NOERROR
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(addresses.length, 6);
    const records = addresses.map((a) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(0, 6); // TTL 0: every lookup asks again, as a rebinding attacker wants
      rr.writeUInt16BE(4, 10);
      a.split('.').forEach((o, k) => rr.writeUInt8(Number(o), 12 + k));
      return rr;
    });
    socket.send(Buffer.concat([header, msg.subarray(12, qEnd), ...records]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
