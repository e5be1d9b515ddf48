import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { runCli, startProxyProcess } from '../support/proxy.js';

/** The real CLI process (issue #2 §1): defaults shown, bad values exit 2 naming the option, env and file config. */
describe('cli: flags, env, config file, exit codes', function () {
  this.timeout(60_000);

  it('--help shows every option with its default', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).to.equal(0);
    for (const flag of ['--port', '--bind', '--host', '--prefix', '--trust-proxy', '--cors-origin', '--connect-timeout', '--max-playlist-size', '--redis', '--config']) {
      expect(stdout, flag).to.include(flag);
    }
    expect(stdout).to.match(/--port[^\n]*\[default: 8080\]/);
    expect(stdout).to.match(/--trust-proxy[\s\S]{0,300}?\[default: \["loopback"\]\]/);
  });

  const bad: Array<[string[], string]> = [
    [['--port', 'eighty'], '--port'],
    [['--trust-proxy', '300.1.1.1'], '--trust-proxy'],
    [['--host', 'a b'], '--host'],
    [["--bogus-flag"], "bogus-flag"],
    [['--copy-req-headers'], '--copy-req-headers is not supported'],
  ];
  for (const [args, named] of bad) {
    it(`${args.join(' ')} stops start-up with exit 2 naming ${named}`, async () => {
      const { code, stderr } = await runCli(args);
      expect(code).to.equal(2);
      expect(stderr).to.include(named);
    });
  }

  it('every option is also an env var HLS_SIDECAR_<NAME>; a bad one is named too', async () => {
    const { code, stderr } = await runCli([], { HLS_SIDECAR_MAX_REDIRECTS: '999' });
    expect(code).to.equal(2);
    expect(stderr).to.include('--max-redirects');
  });

  it('starts from env and a --config file, answers /healthz, and exits 0 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hls-sidecar-cli-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ prefix: '/from-file' }));
    const proc = await startProxyProcess(['--config', file], { env: { HLS_SIDECAR_LOG_LEVEL: 'warn' } });
    try {
      const res = await request(`${proc.url}/from-file/healthz`);
      expect(res.statusCode).to.equal(200);
      await res.body.text();
    } finally {
      expect(await proc.stop('SIGTERM')).to.equal(0);
    }
  });

  it('`url` prints the proxied URL of an upstream URL', async () => {
    const { code, stdout } = await runCli(['url', 'http://cam.internal/live/index.m3u8?token=a~b', '--base', 'https://dash.example/hls-proxy']);
    expect(code).to.equal(0);
    const line = stdout.trim();
    expect(line).to.match(/^https:\/\/dash\.example\/hls-proxy\/[A-Za-z0-9_~.-]+\.m3u8$/);
  });
});
