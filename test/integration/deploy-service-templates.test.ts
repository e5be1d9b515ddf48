/**
 * Static checks of the service templates of the deployment kit (issue #6): the systemd unit, the container
 * image (Dockerfile, .dockerignore, deploy/healthcheck.mjs), and the HLS_SIDECAR_* variables used across
 * the whole kit. Templates are tested as shipped (see deploy-templates.test.ts for nginx/IIS/Compose).
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  OPTION_BY_ENV, ROOT, optionDefault as defaultOf, parseDockerfile, parseUnit, readRepoFile as read, substitute, validEnvValue,
} from '../support/deploy-kit.js';
import { runCommand } from '../support/processes.js';

describe('deployment service templates (issue #6)', function () {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-deploy-svc-'));
  });
  after(async () => rm(tmp, { recursive: true, force: true }));

  describe('systemd unit', function () {
    const unitText = read('deploy/hls-sidecar.service');
    // The only edit: node's path on this machine, since systemd-analyze checks that ExecStart is executable.
    const nodeTable: Array<[string, string]> = [['ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `]];
    async function verify(text: string): Promise<{ code: number | null; problems: string[]; stderr: string }> {
      const file = path.join(tmp, 'hls-sidecar.service');
      await writeFile(file, text);
      const r = await runCommand('systemd-analyze', ['verify', file], { timeoutMs: 30_000 });
      const problems = r.stderr.split('\n').filter((l) => l.includes('hls-sidecar.service'));
      return { code: r.code, problems, stderr: r.stderr };
    }

    it('passes systemd-analyze verify with no warnings about the unit (a misspelt key is reported: control)', async function () {
      const good = await verify(substitute(unitText, nodeTable, 'hls-sidecar.service'));
      if (good.code === null && /ENOENT/.test(good.stderr)) {
        console.log('      (skipped: no systemd-analyze on this machine; the hardening check below still runs)');
        return this.skip();
      }
      expect(good.code, good.stderr).to.equal(0);
      expect(good.problems).to.deep.equal([]);
      const bad = await verify(substitute(unitText, [...nodeTable, ['ProtectHome=yes', 'ProtectHomme=yes']], 'control'));
      expect(bad.problems.join('\n')).to.match(/ProtectHomme/);
    });

    it('is hardened, reads /etc/hls-sidecar/env and outlasts the proxy drain on stop', () => {
      const service = new Map(parseUnit(unitText).get('Service'));
      const expected: Record<string, string> = {
        DynamicUser: 'yes', NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes',
        PrivateDevices: 'yes', RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX', CapabilityBoundingSet: '',
        EnvironmentFile: '-/etc/hls-sidecar/env', KillSignal: 'SIGTERM', Restart: 'on-failure',
      };
      for (const [k, v] of Object.entries(expected)) expect(service.get(k), k).to.equal(v);
      expect(service.get('MemoryMax')).to.match(/^\d+[KMG]$/);
      expect(service.has('MemoryDenyWriteExecute'), 'V8 JIT needs W+X pages').to.equal(false);
      expect(Number(service.get('TimeoutStopSec')) * 1000).to.be.greaterThan(defaultOf('shutdown-timeout'));
      for (const [k, v] of parseUnit(unitText).get('Service') ?? []) {
        const [name = '', value = ''] = v.split('=');
        if (k === 'Environment' && name.startsWith('HLS_SIDECAR_')) expect(validEnvValue(name, value), v).to.equal(true);
      }
    });
  });

  describe('Dockerfile', function () {
    const stages = parseDockerfile(read('deploy/Dockerfile'));
    const final = stages.at(-1)!;
    const ops = (op: string): string[] => final.instructions.filter((i) => i.op === op).map((i) => i.args);

    it('is multi-stage: compiled in a build stage, production dependencies only in the runtime image', () => {
      expect(stages.length).to.be.greaterThan(1);
      expect(final.from).to.match(/^node:20-(alpine|slim|bookworm-slim)/);
      expect(ops('RUN'), 'nothing installed or built in the runtime stage').to.deep.equal([]);
      const froms = ops('COPY').filter((a) => a.startsWith('--from=')).map((a) => /^--from=(\S+)/.exec(a)?.[1]);
      for (const f of froms) expect(stages.slice(0, -1).map((s) => s.name), String(f)).to.include(f);
      const depsStage = stages.find((s) => s.name === /--from=(\S+) \S*node_modules/.exec(ops('COPY').join('\n'))?.[1]);
      expect(depsStage?.instructions.some((i) => i.op === 'RUN' && /npm ci .*--omit=dev/.test(i.args))).to.equal(true);
    });

    it('runs as a non-root user with a node-based HEALTHCHECK, EXPOSE 8080 and the built CLI', () => {
      const user = ops('USER').at(-1);
      expect(user).to.be.a('string').and.not.match(/^(root|0)(:|$)/);
      const health = ops('HEALTHCHECK').at(-1) ?? '';
      expect(health).to.match(/CMD \["node",/).and.not.match(/curl|wget/);
      expect(ops('EXPOSE')).to.deep.equal([String(defaultOf('port'))]);
      expect(JSON.parse(ops('CMD').at(-1) ?? 'null')).to.deep.equal(['node', 'dist/src/cli.js']);
    });

    it('.dockerignore admits every file the Dockerfile copies from the context, and nothing else', () => {
      const allowed = read('.dockerignore').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
      expect(read('.dockerignore').split('\n')).to.include('*');
      const sources = stages.flatMap((s) => s.instructions).filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
        .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
      expect([...new Set(sources)].sort()).to.deep.equal([...allowed].sort());
    });

    it('every package src/ imports at run time is a production dependency (the image installs --omit=dev)', () => {
      const deps = Object.keys((JSON.parse(read('package.json')) as { dependencies?: object }).dependencies ?? {});
      const files = readdirSync(path.join(ROOT, 'src'), { recursive: true }).map(String).filter((f) => f.endsWith('.ts'));
      const imported = new Set<string>();
      for (const f of files) {
        const text = read(path.join('src', f));
        // Static imports/re-exports (type-only ones vanish at compile time) and dynamic import('...').
        const found = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s+(type\s)?[^;'"]*?from\s+'([^']+)'/g)].filter((m) => !m[1]).map((m) => m[2])
          .concat([...text.matchAll(/(?:^|\n)\s*import\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]));
        for (const spec of found) {
          if (!spec || spec.startsWith('.') || spec.startsWith('node:')) continue;
          const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0] ?? spec;
          // tsx is loaded only when the TypeScript sources themselves run (render-pool.ts starts its worker
          // through tsx then): never in the image, which runs dist/. Only behind that guard is it allowed.
          if (pkg === 'tsx' && /import\.meta\.url\.endsWith\('\.ts'\)/.test(text)) continue;
          imported.add(pkg);
        }
      }
      expect(imported.size, 'src/ imports no packages at all?').to.be.greaterThan(0);
      for (const pkg of imported) expect(deps, pkg).to.include(pkg);
    });
  });

  describe('environment variables across the kit', function () {
    const files = ['docker-compose.yml', 'deploy/env.example', 'deploy/hls-sidecar.service', 'deploy/Dockerfile', 'deploy/healthcheck.mjs',
      'deploy/windows/install-service.js', 'deploy/windows/uninstall-service.js', 'docs/deploy.md', 'iis/web.config', 'iis/setup.ps1'];
    it('every HLS_SIDECAR_* name mentioned is a real option from src/config-options.ts', () => {
      for (const f of files) {
        for (const [name] of read(f).matchAll(/HLS_SIDECAR_[A-Z0-9_]+/g)) expect(OPTION_BY_ENV.has(name), `${f}: ${name}`).to.equal(true);
      }
    });

    it('env.example values (commented ones too) parse as their option type', () => {
      const lines = read('deploy/env.example').split('\n').map((l) => /^#?(HLS_SIDECAR_[A-Z0-9_]+)=(.*)$/.exec(l)).filter((m) => m !== null);
      expect(lines.length).to.be.greaterThan(10);
      for (const [, k = '', v = ''] of lines) if (v !== '') expect(validEnvValue(k, v), `${k}=${v}`).to.equal(true);
    });
  });

  describe('deploy/healthcheck.mjs', function () {
    let server: http.Server;
    let port: number;
    before(async () => {
      server = http.createServer((req, res) => {
        res.statusCode = req.url === '/hls-proxy/healthz' ? 200 : req.url === '/hls-proxy/readyz' ? 503 : 404;
        res.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const cases: Array<[string, Record<string, string>, string[], number]> = [
      ['healthz under the prefix (trailing slash normalised)', { HLS_SIDECAR_PREFIX: '/hls-proxy/' }, [], 0],
      ['readyz 503 is unhealthy', { HLS_SIDECAR_PREFIX: '/hls-proxy' }, ['readyz'], 1],
      ['wrong prefix (404) is unhealthy', { HLS_SIDECAR_PREFIX: '/elsewhere' }, [], 1],
      ['nobody listening is unhealthy', { HLS_SIDECAR_PREFIX: '/hls-proxy', HLS_SIDECAR_PORT: '1' }, [], 1],
    ];
    for (const [name, env, args, code] of cases) {
      it(`${name} → exit ${code}`, async () => {
        const r = await runCommand(process.execPath, [path.join(ROOT, 'deploy/healthcheck.mjs'), ...args], {
          env: { PATH: process.env.PATH ?? '', HLS_SIDECAR_BIND: '0.0.0.0', HLS_SIDECAR_PORT: String(port), ...env },
          timeoutMs: 10_000,
        });
        expect(r.code, r.stdout + r.stderr).to.equal(code);
      });
    }
  });
});
