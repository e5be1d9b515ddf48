import { createHash, scryptSync, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config.js';
import { ProxyError } from '../errors.js';
import type { Signer } from '../signing.js';
import type { CacheScope } from '../upstream/headers.js';
import type { DecodedTarget } from '../url-codec.js';
import type { EgressPolicy } from './egress-policy.js';

/**
 * Who may use the proxy, decided per request after the token is decoded (issue #5 §2, §3):
 *
 * 1. --acl-ip: the client address (as vouched for by --trust-proxy peers, forwarded.ts) must be listed → 403.
 * 2. A token carrying a signature must verify (HMAC, signing.ts) → else 403 BAD_SIGNATURE.
 * 3. --acl-pass: header `X-HLS-Sidecar-Password` or query `password=` must equal one of the passwords
 *    (constant time) → else 401. A valid signature passes instead: only the proxy could have issued it, for
 *    a viewer that had authenticated. The password itself is never written into rewritten URLs.
 * 4. With --sign-key, an unsigned token is refused (403 BAD_SIGNATURE) unless it is an entry playlist whose
 *    upstream an explicit --allow-upstream rule admits; with --require-signature, always.
 */

export const PASSWORD_HEADER = 'x-hls-sidecar-password';
/** RFC 9110 §11.6.1: a 401 carries a challenge. The scheme names the header to send. */
export const PASSWORD_CHALLENGE = 'X-HLS-Sidecar-Password realm="hls-sidecar"';

export interface AccessRequest {
  target: DecodedTarget;
  /** The token's extension is the playlist extension (an entry URL when unsigned). */
  isPlaylist: boolean;
  clientIp: string;
  headers: IncomingHttpHeaders;
  /** Raw query string, without '?'. */
  query: string;
}

export interface AccessControl {
  /** Throws ProxyError FORBIDDEN / BAD_SIGNATURE / UNAUTHORIZED; returns the reply's scope when it may proceed. */
  check(req: AccessRequest): CacheScope;
}

/**
 * The signing key used when --acl-pass is set without --sign-key, so the URLs written into playlists still
 * authorise their own requests. Derived from the passwords (scrypt, so a captured signed URL is no cheap
 * oracle for guessing them): every replica with the same passwords derives the same key.
 */
export function aclSigningKey(passwords: readonly string[]): string {
  const material = JSON.stringify([...passwords].sort());
  return scryptSync(material, 'hls-sidecar/acl-pass/1', 32).toString('base64url');
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** `password` from a raw query, decoded as forms are (`+` is a space); first occurrence wins. */
export function queryPassword(query: string): string | undefined {
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    if (name !== 'password') continue;
    try {
      return decodeURIComponent(pair.slice(eq + 1).replaceAll('+', ' '));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export function createAccessControl(
  security: Config['security'],
  deps: { signer: Signer | undefined; policy: EgressPolicy },
): AccessControl {
  const { signer, policy } = deps;
  const enforceSignatures = security.signKeys.length > 0;
  const passwords = security.aclPass.map(digest);

  function passwordOk(req: AccessRequest): boolean {
    const header = req.headers[PASSWORD_HEADER];
    const given = (Array.isArray(header) ? header[0] : header) ?? queryPassword(req.query);
    if (given === undefined) return false;
    const d = digest(given);
    let ok = false;
    // Every password is compared (no early exit), each in constant time over equal-length digests.
    for (const p of passwords) if (timingSafeEqual(p, d)) ok = true;
    return ok;
  }

  return {
    check(req) {
      if (security.aclIp && !security.aclIp.has(req.clientIp)) throw new ProxyError('FORBIDDEN', { detail: 'client address not in --acl-ip' });
      const { target } = req;
      let signed = false;
      if (signer && target.signature !== undefined) {
        signed = signer.verify({ url: target.url, referer: target.referer, vars: target.vars }, target.signature);
        if (!signed) throw new ProxyError('BAD_SIGNATURE', { detail: 'signature does not verify' });
      }
      if (passwords.length && !signed && !passwordOk(req)) throw new ProxyError('UNAUTHORIZED', { detail: 'no valid password' });
      const scope: CacheScope = security.aclIp || (passwords.length && !signed) ? 'private' : 'public';
      if (!enforceSignatures || signed) return scope;
      if (security.requireSignature) throw new ProxyError('BAD_SIGNATURE', { detail: 'unsigned (--require-signature)' });
      if (!req.isPlaylist || !policy.explicitlyAllows(target.url)) {
        throw new ProxyError('BAD_SIGNATURE', { detail: 'unsigned token for a target no --allow-upstream rule admits' });
      }
      return scope;
    },
  };
}
