// hls-sidecar as a Windows service, through node-windows (which wraps winsw). From an elevated prompt
// in the hls-sidecar folder:
//
//   npm install -g node-windows
//   npm link node-windows          (makes node-windows importable here; it is deliberately NOT a
//                                   dependency in package.json: Linux and container installs never need it)
//   npm ci && npm run build        (the service runs dist\src\cli.js)
//   node deploy\windows\install-service.js [--local-service] [path\to\env-file]
//
// Options are the same HLS_SIDECAR_<OPTION> environment variables as on Linux (deploy/env.example).
// They come, later winning, from: the defaults below (loopback:8080 under /hls-proxy, matching
// iis\web.config), the env file given as argument (KEY=value lines, e.g. a copy of deploy\env.example),
// and HLS_SIDECAR_* variables set in this prompt. They are written into the service definition: to change
// them, run uninstall-service.js and install again.
//
// --local-service: run as NT AUTHORITY\LocalService instead of LocalSystem (recommended; the proxy needs
// no privileges). Grants that account write access to the service's log folder (dist\src\daemon).
//
// Stopping: winsw stops the node-windows wrapper first (stopparentfirst), which sends the message
// 'shutdown' over the IPC channel to the proxy; the proxy then drains like on SIGTERM. stoptimeout must
// exceed HLS_SIDECAR_SHUTDOWN_TIMEOUT (30 s by default).
//
// Validate: sc.exe query hlssidecar ; curl.exe -s http://127.0.0.1:8080/hls-proxy/healthz
// Logs: dist\src\daemon\hlssidecar.out.log / .err.log, and the Windows Application event log.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SERVICE_NAME = 'hls-sidecar';
const STOP_TIMEOUT_SEC = 40;
const DEFAULTS = {
  NODE_ENV: 'production',
  HLS_SIDECAR_BIND: '127.0.0.1',
  HLS_SIDECAR_PORT: '8080',
  HLS_SIDECAR_PREFIX: '/hls-proxy',
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(root, 'dist', 'src', 'cli.js');

function fail(message) {
  console.error(`install-service: ${message}`);
  process.exit(1);
}

/** KEY=value lines; # comments and blank lines skipped; one pair of surrounding quotes removed. */
function readEnvFile(path) {
  const vars = {};
  for (const [index, raw] of readFileSync(path, 'utf8').split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) fail(`${path}:${index + 1}: expected KEY=value`);
    vars[m[1]] = m[2].replace(/^(["'])(.*)\1$/, '$2');
  }
  return vars;
}

/** HLS_SIDECAR_<NAME> for every option the proxy declares, so typos fail here and not at first start. */
async function knownOptionVars() {
  const { OPTIONS } = await import(pathToFileURL(join(root, 'dist', 'src', 'config-options.js')).href);
  return new Set(Object.keys(OPTIONS).map((name) => `HLS_SIDECAR_${name.toUpperCase().replace(/-/g, '_')}`));
}

async function main() {
  if (process.platform !== 'win32') fail('Windows only; on Linux use deploy/hls-sidecar.service');
  const args = process.argv.slice(2);
  const localService = args.includes('--local-service');
  const envFile = args.find((a) => !a.startsWith('--'));
  if (!existsSync(script)) fail(`${script} not found: run "npm run build" first`);

  const fromPrompt = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('HLS_SIDECAR_')));
  const vars = { ...DEFAULTS, ...(envFile ? readEnvFile(envFile) : {}), ...fromPrompt };
  const known = await knownOptionVars();
  const unknown = Object.keys(vars).filter((k) => k.startsWith('HLS_SIDECAR_') && !known.has(k));
  if (unknown.length > 0) fail(`unknown option variable(s): ${unknown.join(', ')} (see hls-sidecar --help)`);
  const ignored = Object.keys(vars).filter((k) => !k.startsWith('HLS_SIDECAR_') && !k.startsWith('NODE_'));
  if (ignored.length > 0) fail(`only HLS_SIDECAR_* and NODE_* variables are passed on; remove: ${ignored.join(', ')}`);

  let nodeWindows;
  try {
    nodeWindows = (await import('node-windows')).default;
  } catch {
    fail('node-windows not found: run "npm install -g node-windows" and "npm link node-windows" here first');
  }

  const svc = new nodeWindows.Service({
    name: SERVICE_NAME,
    description: 'hls-sidecar HLS reverse proxy (rewrites playlists so every URI routes back through it)',
    script,
    workingDirectory: root,
    // node-windows defaults to --harmony; source maps make stack traces point at src/*.ts.
    nodeOptions: '--enable-source-maps',
    env: Object.entries(vars).map(([name, value]) => ({ name, value: String(value) })),
    stopparentfirst: true,
    stoptimeout: STOP_TIMEOUT_SEC,
    // Restart a crashed proxy after 2 s, growing by half each time, at most 5 times a minute.
    wait: 2,
    grow: 0.5,
    maxRestarts: 5,
  });

  svc.on('alreadyinstalled', () => fail(`service ${svc.id} already installed; run uninstall-service.js first`));
  svc.on('invalidinstallation', () => fail(`service ${svc.id} is half-installed; run uninstall-service.js first`));
  svc.on('error', (err) => fail(String(err)));
  svc.on('install', () => {
    if (localService) {
      // The service runs the wrapper, which forks the proxy: both inherit this account.
      execFileSync('sc.exe', ['config', svc.id, 'obj=', 'NT AUTHORITY\\LocalService', 'password=', ''], { stdio: 'inherit' });
      execFileSync('icacls', [svc.root, '/grant', 'NT AUTHORITY\\LocalService:(OI)(CI)M'], { stdio: 'inherit' });
    }
    console.log(`install-service: installed ${svc.id} (${Object.keys(vars).join(', ')}); starting`);
    svc.start();
  });
  svc.on('start', () => console.log(`install-service: ${svc.id} started`));
  svc.install();
}

await main();
