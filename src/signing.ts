import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Target } from './url-codec.js';

/**
 * HMAC-SHA256 signed proxy URLs (issue #5 §2): with --sign-key the proxy only fetches targets a holder of the
 * key vouched for, so it cannot be used as an open proxy. Keys: the first one signs, every one verifies, so a
 * key can be rotated by prepending the new one and dropping the old one after the longest link lifetime.
 *
 * Algorithm (version 1) — what a dashboard back end implements to mint links:
 *
 *   canonical = JSON.stringify(["hls-sidecar/1", exp, url, referer || "",
 *                               Object.keys(vars || {}).sort().map((k) => [k, vars[k]])])
 *     exp      whole seconds since the Unix epoch after which the link is dead, or 0 for "never";
 *     url      the upstream URL exactly as put in the token; referer: hlsd's `|referer`, "" when none;
 *     vars     imported EXT-X-DEFINE variables, sorted by name with the default JS sort (UTF-16 order).
 *     JSON gives an unambiguous encoding of strings (no separator can be forged by a url containing one).
 *   mac       = HMAC-SHA256(key as UTF-8, canonical as UTF-8), base64url without padding (43 characters)
 *   signature = exp > 0 ? `${exp}_${mac}` : mac        (exp in plain decimal, no leading zeros)
 *
 *   // Node.js, e.g. a dashboard minting a link valid for one hour:
 *   const { createHmac } = require('node:crypto');
 *   function sign(key, url, referer = '', vars = {}, ttlSec = 3600) {
 *     const exp = ttlSec > 0 ? Math.floor(Date.now() / 1000) + ttlSec : 0;
 *     const canonical = JSON.stringify(['hls-sidecar/1', exp, url, referer,
 *       Object.keys(vars).sort().map((k) => [k, vars[k]])]);
 *     const mac = createHmac('sha256', key).update(canonical).digest('base64url');
 *     return exp > 0 ? `${exp}_${mac}` : mac;
 *   }
 *
 * The signature is carried inside the token (`.s<signature>` before the extension, see url-codec.ts), never
 * in the query, which is merged into the upstream URL. Verification: any key whose MAC matches, compared in
 * constant time (crypto.timingSafeEqual); an expiry in the past fails; when the proxy runs with a TTL
 * (ttlSec > 0), a signature without an expiry fails too, so a never-expiring link cannot outlive the policy.
 * A signature with an expiry is honoured whatever the TTL, so a back end may choose its own link lifetimes.
 */
export interface Signer {
  /** True when sign() embeds an expiry (ttlSec > 0): its output then changes every second, so callers
   *  must not memoise signed output for longer than that. */
  readonly expires: boolean;
  /** Signature for `target`, expiring ttlSec after nowSec when ttlSec > 0. */
  sign(target: Target, nowSec?: number): string;
  /** True when `signature` is a valid, unexpired signature of exactly this url, referer and vars. */
  verify(target: Target, signature: string, nowSec?: number): boolean;
}

const VERSION = 'hls-sidecar/1';
const MAC_LENGTH = 43; // 32 bytes of SHA-256 in unpadded base64url
const SIGNATURE_RE = /^(?:([1-9][0-9]{0,14})_)?([A-Za-z0-9_-]{43})$/;

/** The canonical string the MAC covers; exported so tests and tools can show it. */
export function canonicalString(target: Target, exp: number): string {
  const vars = target.vars ?? {};
  const entries = Object.keys(vars)
    .sort()
    .map((k) => [k, vars[k]]);
  return JSON.stringify([VERSION, exp, target.url, target.referer || '', entries]);
}

function mac(key: string, canonical: string): string {
  return createHmac('sha256', key).update(canonical, 'utf8').digest('base64url');
}

export function createSigner(keys: readonly string[], ttlSec: number, clock: () => number): Signer {
  if (keys.length === 0) throw new RangeError('createSigner needs at least one key');
  if (!Number.isInteger(ttlSec) || ttlSec < 0) throw new RangeError('ttlSec must be a whole number ≥ 0');
  const signingKey = keys[0]!;
  const allKeys = [...keys];
  const now = (nowSec: number | undefined): number => nowSec ?? Math.floor(clock() / 1000);

  return Object.freeze({
    expires: ttlSec > 0,

    sign(target: Target, nowSec?: number): string {
      const exp = ttlSec > 0 ? now(nowSec) + ttlSec : 0;
      const m = mac(signingKey, canonicalString(target, exp));
      return exp > 0 ? `${exp}_${m}` : m;
    },

    verify(target: Target, signature: string, nowSec?: number): boolean {
      if (typeof signature !== 'string') return false;
      const parsed = SIGNATURE_RE.exec(signature);
      if (!parsed) return false;
      const exp = parsed[1] === undefined ? 0 : Number(parsed[1]);
      if (exp === 0 && ttlSec > 0) return false;
      if (exp > 0 && now(nowSec) > exp) return false;
      const given = Buffer.from(parsed[2]!, 'latin1');
      const canonical = canonicalString(target, exp);
      let ok = false;
      // Every key is tried (no early exit), so timing does not reveal which key matched.
      for (const key of allKeys) {
        const expected = Buffer.from(mac(key, canonical), 'latin1');
        if (expected.length === MAC_LENGTH && timingSafeEqual(expected, given)) ok = true;
      }
      return ok;
    },
  });
}
