import { expect } from 'chai';
import { configFromOptions, ConfigError } from '../../src/config.js';

describe('config: parsed once, typed, frozen; bad values name the option', () => {
  it('has the documented defaults', () => {
    const c = configFromOptions();
    expect(c.port).to.equal(8080);
    expect(c.bind).to.equal('');
    expect(c.prefix).to.equal(undefined);
    expect(c.trustProxy.has('127.0.0.1')).to.equal(true);
    expect(c.trustProxy.has('::ffff:127.0.0.1')).to.equal(true);
    expect(c.trustProxy.has('10.0.0.1')).to.equal(false);
    expect(c.cors.origins).to.deep.equal(['*']);
    expect(c.limits.playlistBytes).to.equal(8 * 1024 * 1024);
    expect(c.cache.redisUrl).to.equal(undefined);
    expect(Object.isFrozen(c)).to.equal(true);
    expect(Object.isFrozen(c.timeouts)).to.equal(true);
  });

  it('--host name:443 means https (as hlsd)', () => {
    expect(configFromOptions({ host: 'dash.example:443' }).publicHost).to.deep.equal({ proto: 'https', authority: 'dash.example' });
    expect(configFromOptions({ host: 'dash.example:8443' }).publicHost).to.deep.equal({ proto: 'http', authority: 'dash.example:8443' });
  });

  it('normalises --prefix', () => {
    expect(configFromOptions({ prefix: 'hls-proxy/' }).prefix).to.equal('/hls-proxy');
    expect(configFromOptions({ prefix: '/' }).prefix).to.equal('');
  });

  it('splits comma-separated lists (env form) but never --header values', () => {
    const c = configFromOptions({ 'trust-proxy': ['10.0.0.0/8,loopback'], header: ['X-A: 1, 2'] });
    expect(c.trustProxy.has('10.1.2.3')).to.equal(true);
    expect(c.upstreamHeaders.fixed['x-a']).to.equal('1, 2');
  });

  const bad: Array<[string, Record<string, unknown>]> = [
    ['port', { port: 70000 }],
    ['port', { port: 'abc' }],
    ['host', { host: 'bad host' }],
    ['prefix', { prefix: '/a b' }],
    ['trust-proxy', { 'trust-proxy': ['nonsense'] }],
    ['cors-credentials', { 'cors-credentials': true }],
    ['redis', { redis: 'http://x' }],
    ['header', { header: ['no separator'] }],
    ['tls-cert', { tls: true }],
    ['require-signature', { 'require-signature': true }],
    ['log-level', { 'log-level': 'loud' }],
    ['connect-timeout', { 'connect-timeout': 0 }],
  ];
  for (const [option, values] of bad) {
    it(`rejects a bad --${option} with a message naming it`, () => {
      expect(() => configFromOptions(values)).to.throw(ConfigError, `--${option}:`);
    });
  }
});
