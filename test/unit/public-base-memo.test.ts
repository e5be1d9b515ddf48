import { expect } from 'chai';
import fc from 'fast-check';
import type { IncomingHttpHeaders } from 'node:http';
import { parsePublicHost, type Config } from '../../src/config.js';
import { FORWARDING_HEADERS, resolvePublicBase } from '../../src/forwarded.js';
import { createIpSet } from '../../src/net/ip-set.js';
import { createPublicBaseResolver, type PublicBaseInput } from '../../src/public-base-memo.js';

/**
 * The memo must be invisible: for any sequence of requests, a resolver that remembers answers gives what
 * resolvePublicBase computes from scratch (forwarded.test.ts checks those answers against the RFCs).
 * Values come from small pools so that sequences repeat inputs, hit the memo, and also vary exactly one
 * header between two otherwise equal requests.
 */

type Cfg = Pick<Config, 'publicHost' | 'prefix' | 'trustProxy'>;
const CONFIGS: Array<[string, Cfg]> = [
  ['trust loopback + 10/8', { publicHost: undefined, prefix: undefined, trustProxy: createIpSet(['loopback', '10.0.0.0/8']) }],
  ['trust nobody', { publicHost: undefined, prefix: undefined, trustProxy: createIpSet([]) }],
  ['--host and --prefix win', { publicHost: parsePublicHost('media.example.com:443'), prefix: '/tv', trustProxy: createIpSet(['loopback']) }],
];

const VALUES: Record<(typeof FORWARDING_HEADERS)[number], Array<string | string[] | undefined>> = {
  host: [undefined, '', 'side.test', 'side.test:8080', '127.0.0.1:3000', 'evil.test/"><x>'],
  forwarded: [undefined, '', 'for=203.0.113.9;proto=https;host=public.example', 'for="[2001:db8::1]:4711"', 'for=unknown, for=10.0.0.7', 'garbage;;;'],
  'x-forwarded-proto': [undefined, '', 'https', 'http', 'https, http', 'gopher'],
  'x-forwarded-host': [undefined, '', 'public.example', 'a.example, b.example', 'bad host'],
  'x-forwarded-port': [undefined, '', '443', '8443', '0', 'x'],
  'x-forwarded-prefix': [undefined, '', '/hls-proxy', '/a/b/', '/../up', 'hls'],
  'x-forwarded-for': [undefined, '', '203.0.113.9', '198.51.100.1, 10.0.0.5', 'unknown', ['203.0.113.9', '10.0.0.9']],
};

const input: fc.Arbitrary<PublicBaseInput> = fc.record({
  peer: fc.constantFrom('127.0.0.1', '::ffff:127.0.0.1', '10.0.0.5', '203.0.113.50', ''),
  encrypted: fc.boolean(),
  echoedPrefix: fc.constantFrom('', '/hls-proxy', '/other'),
  headers: fc.record(
    Object.fromEntries(FORWARDING_HEADERS.map((h) => [h, fc.constantFrom(...VALUES[h])])) as Record<string, fc.Arbitrary<string | string[] | undefined>>,
  ).map((h) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as IncomingHttpHeaders),
});

/** One field of an input changed: a header to another value from its pool (or removed), the peer, TLS, or the echoed prefix. */
const variation: fc.Arbitrary<(i: PublicBaseInput) => PublicBaseInput> = fc.oneof(
  ...FORWARDING_HEADERS.map((h) =>
    fc.constantFrom(...VALUES[h]).map((v) => (i: PublicBaseInput): PublicBaseInput => {
      const headers = { ...i.headers };
      if (v === undefined) delete headers[h];
      else headers[h] = v as string;
      return { ...i, headers };
    }),
  ),
  fc.constantFrom('127.0.0.1', '10.0.0.5', '203.0.113.50').map((peer) => (i: PublicBaseInput) => ({ ...i, peer })),
  fc.constant((i: PublicBaseInput) => ({ ...i, encrypted: !i.encrypted })),
  fc.constantFrom('', '/hls-proxy', '/other').map((echoedPrefix) => (i: PublicBaseInput) => ({ ...i, echoedPrefix })),
);

describe('public base memo (src/public-base-memo.ts)', () => {
  for (const [name, config] of CONFIGS) {
    it(`${name}: a remembered answer is always the answer computed from scratch`, () => {
      fc.assert(
        // A request, then variations of it that each change one field, each followed by the original again:
        // an input the key failed to cover would be answered from the other request's entry.
        fc.property(input, fc.array(variation, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 8 }), (first, changes, maxEntries) => {
          const resolve = createPublicBaseResolver(config, maxEntries);
          for (const req of [first, ...changes.flatMap((change) => [change(first), first])]) {
            expect(resolve(req), JSON.stringify(req)).to.deep.equal(resolvePublicBase({ ...req, config }));
          }
        }),
        { numRuns: 500 },
      );
    });
  }

  it('an absent header and an empty one are different inputs', () => {
    const config = CONFIGS[0]![1];
    const resolve = createPublicBaseResolver(config);
    const base = { peer: '127.0.0.1', encrypted: false, echoedPrefix: '/hls-proxy' };
    const absent = resolve({ ...base, headers: { host: 'side.test' } });
    const empty = resolve({ ...base, headers: { host: 'side.test', 'x-forwarded-prefix': '' } });
    expect(absent.prefix).to.equal('/hls-proxy');
    expect(empty.prefix).to.equal('');
    expect(empty).to.deep.equal(resolvePublicBase({ ...base, headers: { host: 'side.test', 'x-forwarded-prefix': '' }, config }));
  });

  it('answers are frozen (one object serves many requests), and over-long inputs are still answered', () => {
    const config = CONFIGS[0]![1];
    const resolve = createPublicBaseResolver(config);
    const req = { peer: '127.0.0.1', encrypted: false, echoedPrefix: '', headers: { host: 'side.test', 'x-forwarded-for': `${'198.51.100.1, '.repeat(200)}203.0.113.9` } };
    const first = resolve(req);
    expect(Object.isFrozen(first)).to.equal(true);
    expect(first).to.deep.equal(resolvePublicBase({ ...req, config }));
    expect(resolve(req)).to.deep.equal(first);
  });
});
