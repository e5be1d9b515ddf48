/**
 * Static checks of the front-server and Compose templates of the deployment kit (issue #6): nginx, IIS,
 * docker-compose. Every template is tested as shipped: the only edits made before handing a file to a
 * validator are listed in explicit substitution tables (support/deploy-kit.ts#substitute). The service
 * templates (systemd, Dockerfile, env, health probe) are in deploy-service-templates.test.ts; rehearsals
 * against a running proxy live elsewhere.
 */
import { expect } from 'chai';
import { statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import AjvModule from 'ajv';
import { load as loadYaml } from 'js-yaml';
import { OPTION_BY_ENV, ROOT, cacheDirRows, optionDefault as defaultOf, readRepoFile as read, renderNginxTemplate, seconds, substitute, validEnvValue } from '../support/deploy-kit.js';
import { evaluateIisRules, findNginx, parseNginx, parseXml, xmlPath, type NginxDirective } from '../support/deploy-parsers.js';
import { nginxTest, wrapNginxConf } from '../support/nginx.js';
import { freePort } from '../support/ports.js';
import { runCommand } from '../support/processes.js';

/** The forwarded headers a location sets itself (proxy_set_header directly inside it). */
function forwardedHeaders(location: NginxDirective): Record<string, string> {
  const set = (location.block ?? []).filter((d) => d.name === 'proxy_set_header' && /^(x-forwarded-.+|forwarded)$/i.test(d.args[0] ?? ''));
  return Object.fromEntries(set.map((d) => [d.args[0] ?? '', d.args[1] ?? '']));
}
const directive = (loc: NginxDirective, name: string): string[] | undefined => loc.block?.find((d) => d.name === name)?.args;

describe('deployment templates (issue #6)', function () {
  let tmp: string;
  let cert: string;
  let key: string;

  before(async function () {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-deploy-'));
    // The shipped dev-cert script makes the throwaway pair (it needs openssl, like nginx -t below).
    const r = await runCommand('bash', [path.join(ROOT, 'deploy/make-dev-cert.sh'), path.join(tmp, 'certs')], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).to.equal(0);
    [cert, key] = [path.join(tmp, 'certs/dev.crt'), path.join(tmp, 'certs/dev.key')];
    expect(statSync(key).mode & 0o077, 'private key readable by others').to.equal(0);
  });
  after(async () => rm(tmp, { recursive: true, force: true }));

  describe('nginx', function () {
    /** Copies nginx/ to <tmp>/<name>/hls-sidecar/ (where the templates' relative includes point) and runs nginx -t. */
    async function nginxCheck(name: string, body: string): Promise<{ ok: boolean; output: string }> {
      const prefix = path.join(tmp, name);
      await mkdir(path.join(prefix, 'hls-sidecar'), { recursive: true });
      await mkdir(path.join(prefix, 'tmp'), { recursive: true });
      for (const f of ['hls-proxy-location.conf', 'hls-proxy-offload.conf', 'example-server.conf']) {
        await copyFile(path.join(ROOT, 'nginx', f), path.join(prefix, 'hls-sidecar', f));
      }
      // nginx -t creates the cache directory: in the prefix, not in /var/cache.
      await writeFile(path.join(prefix, 'hls-sidecar', 'upstream.conf'), substitute(read('nginx/upstream.conf'), cacheDirRows(path.join(prefix, 'cache')), 'upstream.conf'));
      const conf = path.join(prefix, 'nginx.conf');
      await writeFile(conf, wrapNginxConf(body, prefix));
      return nginxTest(conf, { prefixDir: prefix });
    }
    // nginx -t loads certificates and binds the listen sockets (EADDRINUSE is tolerated, EACCES is not), so
    // privileged ports move to loopback ephemeral ones (IPv6 listeners too: CI may have no IPv6), and the
    // certificate paths point at the throwaway pair. Nothing else in a template changes.
    const listenTable = async (listens: string[]): Promise<Array<[string, string]>> =>
      Promise.all(listens.map(async (l): Promise<[string, string]> => [l, l.replace(/listen [^\s;]+/, `listen 127.0.0.1:${await freePort()}`)]));
    const cases: Array<[string, () => Promise<string>]> = [
      // A bare server {} of the operator's, with upstream.conf in http {} and the snippet inside.
      ['location snippet + upstream.conf', async () =>
        `include hls-sidecar/upstream.conf;\nserver {\n  listen 127.0.0.1:${await freePort()};\n  include hls-sidecar/hls-proxy-location.conf;\n}`],
      ['example-server.conf (TLS)', async () => substitute(read('nginx/example-server.conf'), [
        ...(await listenTable(['listen 80;', 'listen [::]:80;', 'listen 443 ssl http2;', 'listen [::]:443 ssl http2;'])),
        ['/etc/ssl/certs/media.example.com.fullchain.pem', cert], ['/etc/ssl/private/media.example.com.key', key],
      ], 'example-server.conf')],
      ['deploy/compose-nginx.conf', async () => substitute(await renderNginxTemplate(read('deploy/compose-nginx.conf'), { HLS_NGINX_RESOLVER: '127.0.0.1' }), [
        ...(await listenTable(['listen 443 ssl http2;'])), ...cacheDirRows(path.join(tmp, 'deploy-compose-nginx-conf', 'cache')),
        ['/etc/nginx/certs/dev.crt', cert], ['/etc/nginx/certs/dev.key', key],
      ], 'compose-nginx.conf')],
    ];
    for (const [name, body] of cases) {
      it(`${name} passes nginx -t`, async () => {
        const r = await nginxCheck(name.replace(/\W+/g, '-'), await body());
        expect(r.ok, r.output).to.equal(true);
      });
    }

    it('the nginx -t harness does fail a broken template (control)', async () => {
      const broken = read('nginx/hls-proxy-location.conf').replace('proxy_http_version 1.1;', 'proxy_http_version 1.1');
      const r = await nginxCheck('control', `include hls-sidecar/upstream.conf;\nserver {\n  listen 127.0.0.1:${await freePort()};\n${broken}\n}`);
      expect(r.ok, r.output).to.equal(false);
      expect(r.output).to.match(/"proxy_http_version"/);
    });

    const snippet = parseNginx(read('nginx/hls-proxy-location.conf'));
    const location = snippet.find((d) => d.name === 'location' && d.args[0] === '/hls-proxy/');
    it('the location sets exactly the forwarded headers the proxy trusts, and clears Forwarded', () => {
      expect(location, 'location /hls-proxy/').to.not.equal(undefined);
      expect(forwardedHeaders(location!)).to.deep.equal({
        'X-Forwarded-Proto': '$scheme',
        'X-Forwarded-Host': '$http_host',
        'X-Forwarded-Prefix': '/hls-proxy',
        'X-Forwarded-For': '$proxy_add_x_forwarded_for',
        Forwarded: '',
      });
    });

    it('the location streams over keepalive, passes the URI unchanged and outwaits the proxy', () => {
      const loc = location!;
      expect(directive(loc, 'proxy_pass'), 'no URI part after the upstream').to.deep.equal(['http://hls_sidecar']);
      expect(directive(loc, 'proxy_http_version')).to.deep.equal(['1.1']);
      expect(loc.block?.find((d) => d.name === 'proxy_set_header' && d.args[0] === 'Connection')?.args[1]).to.equal('');
      // Playlists buffered; media streams because the proxy sends X-Accel-Buffering: no (segment.ts).
      expect(directive(loc, 'proxy_buffering')).to.deep.equal(['on']);
      expect(directive(loc, 'proxy_max_temp_file_size')).to.deep.equal(['0']);
      expect(directive(loc, 'proxy_request_buffering')).to.deep.equal(['off']);
      const upstreamLimitSec = Math.max(defaultOf('headers-timeout'), defaultOf('body-timeout'), defaultOf('playlist-timeout')) / 1000;
      expect(seconds(directive(loc, 'proxy_read_timeout')?.[0])).to.be.greaterThan(upstreamLimitSec);
      // Short: replicas are on this host or its LAN (hls-proxy-location.conf says why; issue #15).
      expect(seconds(directive(loc, 'proxy_connect_timeout')?.[0])).to.be.within(0.1, 1);
      expect(seconds(directive(loc, 'proxy_send_timeout')?.[0])).to.be.within(5, 120);
      const metrics = findNginx(loc.block ?? [], 'location').find((d) => d.args.join(' ') === '= /hls-proxy/metrics');
      expect(metrics?.block?.map((d) => `${d.name} ${d.args.join(' ')}`)).to.include('deny all');
    });

    it('the front cache: playlists and segments in their own zones, kept only on X-Accel-Expires, Range around it (compose in step)', () => {
      const zones = (tree: NginxDirective[]): string[] =>
        findNginx(tree, 'proxy_cache_path').flatMap((d) => d.args).filter((a) => a.startsWith('keys_zone=')).map((a) => a.split(/[=:]/)[1]!);
      const composeTree = parseNginx(read('deploy/compose-nginx.conf'));
      const pairs: Array<[string, NginxDirective[], NginxDirective]> = [
        ['nginx/', parseNginx(read('nginx/upstream.conf')), location!],
        ['compose', composeTree, findNginx(composeTree, 'location').find((d) => d.args[0] === '/hls-proxy/')!],
      ];
      for (const [name, httpLevel, loc] of pairs) {
        expect(zones(httpLevel), `${name}: zones declared`).to.have.members(['hls_sidecar_playlists', 'hls_sidecar_segments']);
        // Segments, keys, init sections (and every route without X-Accel-Expires, which is never kept).
        expect(directive(loc, 'proxy_cache'), `${name}: outer location`).to.deep.equal(['hls_sidecar_segments']);
        expect(directive(loc, 'proxy_ignore_headers'), name).to.have.members(['Cache-Control', 'Expires']);
        expect(directive(loc, 'proxy_cache_min_uses'), `${name}: no file write for a URL asked once`).to.deep.equal(['2']);
        expect(directive(loc, 'proxy_cache_lock'), `${name}: no lock (500 ms polling)`).to.equal(undefined);
        expect(directive(loc, 'proxy_cache_valid'), `${name}: only X-Accel-Expires decides`).to.equal(undefined);
        expect(directive(loc, 'tcp_nopush'), `${name}: segment copies sent corked, in full packets`).to.deep.equal(['on']);
        // HEAD stays HEAD (no whole-segment download for it), so the method is part of the key.
        expect(directive(loc, 'proxy_cache_convert_head'), name).to.deep.equal(['off']);
        const key = directive(loc, 'proxy_cache_key')?.[0] ?? '';
        const forwarded = Object.values(forwardedHeaders(loc)).join(' ');
        for (const v of ['$scheme', '$host', '$http_host', '$request_uri', '$request_method']) expect(key, `${name}: key`).to.include(v);
        for (const v of forwarded.match(/\$\w+/g) ?? []) {
          if (v !== '$proxy_add_x_forwarded_for') expect(key, `${name}: key holds ${v}, sent in X-Forwarded-*`).to.include(v);
        }
        // A Range request is neither served from nor written to the cache, and reaches the proxy with its
        // Range; the validators too (nginx drops all four in a caching location unless they are set).
        // `bytes=0-` (ffmpeg's whole-body range) counts as no range: $hls_sidecar_range is empty for it.
        const rangeMap = findNginx(httpLevel, 'map').find((d) => d.args.join(' ') === '$http_range $hls_sidecar_range');
        expect(rangeMap?.block?.map((d) => [d.name, ...d.args]), `${name}: map`).to.deep.equal([['default', '$http_range'], ['bytes=0-', '']]);
        expect(directive(loc, 'proxy_cache_bypass'), name).to.deep.equal(['$hls_sidecar_range']);
        expect(directive(loc, 'proxy_no_cache'), name).to.deep.equal(['$hls_sidecar_range']);
        const sent = Object.fromEntries((loc.block ?? []).filter((d) => d.name === 'proxy_set_header').map((d) => [d.args[0]!.toLowerCase(), d.args[1]]));
        expect(sent.range, `${name}: proxy_set_header Range`).to.equal('$hls_sidecar_range');
        for (const h of ['if-range', 'if-none-match', 'if-modified-since']) {
          expect(sent[h], `${name}: proxy_set_header ${h}`).to.equal(`$http_${h.replace(/-/g, '_')}`);
        }
        // Playlists: the same settings, their own zone, not corked; nothing else differs.
        const nested = findNginx(loc.block ?? [], 'location').filter((d) => d.args[0] === '~');
        expect(nested.map((d) => d.args[1]), name).to.deep.equal(['\\.m3u8$']);
        expect(nested[0]!.block?.map((d) => d.name), `${name}: playlist location`).to.have.members(['proxy_pass', 'proxy_cache', 'tcp_nopush']);
        expect(directive(nested[0]!, 'proxy_cache'), name).to.deep.equal(['hls_sidecar_playlists']);
        expect(directive(nested[0]!, 'tcp_nopush'), `${name}: small copies not held corked`).to.deep.equal(['off']);
        expect(directive(nested[0]!, 'proxy_pass'), name).to.deep.equal(directive(loc, 'proxy_pass'));
      }
    });

    it('upstream.conf defines the pool the snippet names, with keepalive after the balancing method', () => {
      const up = parseNginx(read('nginx/upstream.conf')).find((d) => d.name === 'upstream');
      expect(up?.args).to.deep.equal(['hls_sidecar']);
      const names = (up?.block ?? []).map((d) => d.name);
      expect(names.filter((n) => n === 'server').length).to.be.greaterThan(1);
      expect(names.indexOf('keepalive')).to.be.greaterThan(names.indexOf('least_conn'));
    });

    it('compose-nginx.conf re-resolves the scaled `proxy` service through the engine\'s DNS with the same headers', () => {
      const tree = parseNginx(read('deploy/compose-nginx.conf'));
      // Filled in by the nginx image's entrypoint from deploy/nginx-resolver.envsh (tested below).
      expect(findNginx(tree, 'resolver')[0]?.args[0]).to.equal('$HLS_NGINX_RESOLVER');
      const loc = findNginx(tree, 'location').find((d) => d.args[0] === '/hls-proxy/')!;
      const server = findNginx(tree, 'server').find((d) => findNginx(d.block ?? [], 'location').includes(loc))!;
      const [variable, target] = directive(server, 'set') ?? [];
      expect(target).to.equal(`proxy:${defaultOf('port')}`);
      expect(directive(loc, 'proxy_pass')).to.deep.equal([`http://${variable}`]);
      // $http_host keeps the published port (8443) in rewritten playlists, as in the snippet.
      expect(forwardedHeaders(loc)).to.deep.equal(forwardedHeaders(location!));
      // Buffering is kept in step with the snippet (playlists buffered whole, media streamed, no temp file).
      for (const name of ['proxy_buffering', 'proxy_buffer_size', 'proxy_buffers', 'proxy_max_temp_file_size', 'proxy_request_buffering']) {
        expect(directive(loc, name), name).to.deep.equal(directive(location!, name)).and.not.equal(undefined);
      }
    });
  });

  describe('IIS', function () {
    const config = parseXml(read('iis/web.config'));
    it('web.config is well-formed XML and the checker rejects malformed variants (control)', () => {
      expect(config.name).to.equal('configuration');
      const text = read('iis/web.config');
      const broken: Array<[string, string]> = [
        ['"--" in a comment', text.replace('<!-- {HTTPS}', '<!-- -- {HTTPS}')],
        ['mismatched end tag', text.replace('</rules>', '</rule>')],
        ['duplicate attribute', text.replace('stopProcessing="true"', 'stopProcessing="true" stopProcessing="false"')],
        ['bare ampersand', text.replace('value="/hls-proxy"', 'value="/hls-proxy&x"')],
        ['unquoted attribute', text.replace('stopProcessing="true"', 'stopProcessing=true')],
      ];
      for (const [why, variant] of broken) {
        expect(variant, why).to.not.equal(text);
        expect(() => parseXml(variant), why).to.throw(/XML line/);
      }
    });

    const backend = `http://127.0.0.1:${defaultOf('port')}`;
    const table: Array<[string, boolean, string, string | undefined, string, string]> = [
      // rawUrl, https, Host, expected backend URL (undefined: no rule), X-Forwarded-Proto, X-Forwarded-Host
      ['/hls-proxy/aHR0cHM6Ly9vLmV4YW1wbGUvYS5tM3U4.m3u8?_HLS_msn=12&_HLS_part=3', true, 'media.example.com',
        `${backend}/hls-proxy/aHR0cHM6Ly9vLmV4YW1wbGUvYS5tM3U4.m3u8?_HLS_msn=12&_HLS_part=3`, 'https', 'media.example.com'],
      ['/hls-proxy/a%2Fb+c==.ts', false, 'media.example.com:8080', `${backend}/hls-proxy/a%2Fb+c==.ts`, 'http', 'media.example.com:8080'],
      ['/hls-proxy/readyz', true, 'media.example.com', `${backend}/hls-proxy/readyz`, 'https', 'media.example.com'],
      ['/HLS-Proxy/seg.ts', true, 'm.example', `${backend}/hls-proxy/seg.ts`, 'https', 'm.example'],
      ['/hls-proxyx/seg.ts', true, 'm.example', undefined, '', ''],
      ['/hls-proxy', true, 'm.example', undefined, '', ''],
      ['/other/hls-proxy/seg.ts', true, 'm.example', undefined, '', ''],
    ];
    for (const [rawUrl, https, host, url, proto, fwdHost] of table) {
      it(`rewrite ${rawUrl} (${https ? 'https' : 'http'}) → ${url ?? 'not proxied'}`, () => {
        const r = evaluateIisRules(config, { rawUrl, https, host });
        if (url === undefined) return void expect(r).to.equal(undefined);
        expect(r?.url).to.equal(url);
        expect(r?.serverVariables).to.deep.equal({
          HTTP_X_FORWARDED_PROTO: proto, HTTP_X_FORWARDED_HOST: fwdHost, HTTP_X_FORWARDED_PREFIX: '/hls-proxy', HTTP_FORWARDED: '',
        });
      });
    }

    it('setup.ps1 allows exactly the server variables web.config sets, and streams without buffering', () => {
      const ps1 = read('iis/setup.ps1');
      const listed = /\$ServerVariables\s*=\s*@\(([^)]*)\)/.exec(ps1)?.[1]?.match(/'([A-Z_]+)'/g)?.map((s) => s.slice(1, -1));
      const set = xmlPath(config, 'system.webServer', 'rewrite', 'rules', 'rule', 'serverVariables', 'set').map((s) => s.attrs.name);
      expect(listed?.sort()).to.deep.equal([...new Set(set)].sort());
      for (const needle of ["'/enabled:True'", "'/responseBufferLimit:0'", '/timeout:$ProxyTimeout', 'UrlSegmentMaxLength']) {
        expect(ps1).to.include(needle);
      }
    });
  });

  describe('docker-compose.yml', function () {
    type Service = Record<string, unknown> & { environment?: Record<string, unknown>; tmpfs?: string[]; volumes?: string[]; deploy?: { resources?: { limits?: Record<string, unknown> } } };
    const compose = loadYaml(read('docker-compose.yml')) as { services: Record<string, Service> };
    const proxy = compose.services.proxy!;

    it('validates against the Compose Specification schema', () => {
      const schema = JSON.parse(read('test/fixtures/compose-spec/compose-spec.json')) as Record<string, unknown>;
      delete schema.$schema; // "https://json-schema.org/draft-07/schema" is not ajv's draft-07 meta-schema id
      const ajv = new AjvModule.default({ strict: false, allErrors: true, validateFormats: false });
      const validate = ajv.compile(schema);
      expect(validate(compose), ajv.errorsText(validate.errors)).to.equal(true);
      expect(validate({ services: { proxy: { image: 'x', restart: 'sometimes', bogus: 1 } } }), 'schema control').to.equal(false);
    });

    it('passes docker-compose config -q', async function () {
      const r = await runCommand('docker-compose', ['-f', path.join(ROOT, 'docker-compose.yml'), 'config', '-q'], { cwd: ROOT, timeoutMs: 30_000 });
      if (r.code === null && /ENOENT/.test(r.stderr)) {
        console.log('      (skipped: no docker-compose binary on this machine; the schema check above still ran)');
        return this.skip();
      }
      expect(r.code, r.stderr).to.equal(0);
    });

    it('the proxy can be scaled: no container_name, no fixed host ports', () => {
      expect(proxy).to.not.have.property('container_name');
      expect(proxy).to.not.have.property('ports');
    });

    it('every service has a health check, a restart policy and resource limits', () => {
      for (const [name, svc] of Object.entries(compose.services)) {
        expect(svc, name).to.have.property('healthcheck');
        expect(svc.restart, name).to.match(/^(unless-stopped|always|on-failure)/);
        expect(svc.deploy?.resources?.limits?.memory, name).to.be.a('string');
      }
    });

    it('configures the proxy only through real HLS_SIDECAR_* options, and lets it drain before SIGKILL', () => {
      const env = proxy.environment ?? {};
      for (const [k, v] of Object.entries(env)) {
        if (!k.startsWith('HLS_SIDECAR_')) expect(['NODE_ENV', 'NODE_OPTIONS'], k).to.include(k);
        else if (v !== null && !String(v).includes('${')) expect(validEnvValue(k, String(v)), `${k}=${String(v)}`).to.equal(true);
        else expect(OPTION_BY_ENV.has(k), k).to.equal(true);
      }
      const drainMs = Number(env.HLS_SIDECAR_SHUTDOWN_TIMEOUT ?? defaultOf('shutdown-timeout'));
      expect(seconds(String(proxy.stop_grace_period)) * 1000).to.be.greaterThan(drainMs);
      expect(compose.services.nginx?.volumes).to.include('./deploy/compose-nginx.conf:/etc/nginx/templates/default.conf.template:ro');
      expect(compose.services.nginx?.volumes).to.include('./deploy/nginx-resolver.envsh:/docker-entrypoint.d/16-hls-sidecar-resolver.envsh:ro');
    });

    it('nginx keeps its caches on tmpfs mounts larger than their max_size, never in the container layer (issue #14)', () => {
      const mounts = new Map((compose.services.nginx?.tmpfs ?? []).map((t): [string, number] => {
        const [dir, opts] = t.split(':');
        return [dir!, Number(/size=(\d+)m/.exec(opts ?? '')?.[1])] as const;
      }));
      const paths = findNginx(parseNginx(read('deploy/compose-nginx.conf')), 'proxy_cache_path');
      expect(paths).to.have.length(2);
      for (const p of paths) {
        const maxMb = Number(/^max_size=(\d+)m$/.exec(p.args.find((a) => a.startsWith('max_size=')) ?? '')?.[1]);
        expect(mounts.get(p.args[0]!), `${p.args[0]} on a tmpfs mount`).to.be.greaterThan(maxMb);
      }
      const tmpfsMb = [...mounts.values()].reduce((a, b) => a + b, 0);
      expect(Number(/^(\d+)M$/.exec(String(compose.services.nginx?.deploy?.resources?.limits?.memory))?.[1]), 'memory limit covers the tmpfs pages').to.be.greaterThan(tmpfsMb);
    });

    it('nginx-resolver.envsh exports the first nameserver of resolv.conf, IPv6 in brackets', async () => {
      const rows: Array<[string, string]> = [
        ['nameserver 127.0.0.11\noptions ndots:0\n', '127.0.0.11'],
        // podman: its own DNS on the gateway first, the host's resolvers after it (which know no services).
        ['search dns.podman\nnameserver 10.89.0.1\nnameserver 192.0.2.53\n', '10.89.0.1'],
        ['# comment\nnameserver fd00::1\nnameserver 127.0.0.1\n', '[fd00::1]'],
      ];
      for (const [resolvConf, want] of rows) {
        const file = path.join(tmp, 'resolv.conf');
        await writeFile(file, resolvConf);
        const r = await runCommand('sh', ['-c', '. "$0" && printf %s "$HLS_NGINX_RESOLVER"', path.join(ROOT, 'deploy/nginx-resolver.envsh')], { env: { ...process.env, HLS_RESOLV_CONF: file } });
        expect(r.stdout, resolvConf).to.equal(want);
      }
    });
  });
});
