#!/usr/bin/env node
import type { AddressInfo } from 'node:net';
import yargs, { type Options } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parseConfig, ConfigError, type Config } from './config.js';
import { OPTIONS, REFUSED_HLSD_FLAGS, type OptionSpec } from './config-options.js';
import { createEgressPolicy } from './security/egress-policy.js';
import { HooksError } from './hooks.js';
import { startupReport } from './observability/startup-report.js';
import { createApp, type App } from './server.js';
import { createSigner } from './signing.js';
import { encodeTarget, extensionFor } from './url-codec.js';
import { keepV8Tuning, semiSpaceCap, v8Tuning } from './v8-tuning.js';

/**
 * The only module that reads argv and the environment, and the only one that exits. Flags > env
 * (`HLS_SIDECAR_*`) > `--config file.json` > defaults. A bad value exits 2 with a message naming the option.
 */

const EXIT_USAGE = 2;

function fail(message: string): never {
  process.stderr.write(`hls-sidecar: ${message}\n`);
  process.exit(EXIT_USAGE);
}

function yargsOptions(): Record<string, Options> {
  const out: Record<string, Options> = {};
  for (const [name, raw] of Object.entries(OPTIONS)) {
    const spec = raw as OptionSpec;
    const o: Options = { type: spec.type, describe: spec.describe, group: `${spec.group}:` };
    if (spec.default !== undefined) o.default = spec.default;
    if (spec.alias) o.alias = spec.alias;
    if (spec.type === 'array') o.string = true;
    out[name] = o;
  }
  return out;
}

/** hlsd flags with no equivalent are refused with the reason (issue #7 §1), before yargs sees them. */
function refuseUnsupported(argv: string[]): void {
  for (const arg of argv) {
    const name = /^--([a-z0-9-]+)/.exec(arg)?.[1];
    if (name && REFUSED_HLSD_FLAGS[name]) fail(`--${name} is not supported: ${REFUSED_HLSD_FLAGS[name]}`);
  }
}

function configFrom(argv: Record<string, unknown>): Config {
  try {
    const config = parseConfig(argv);
    createEgressPolicy(config.security); // rule syntax errors exit 2 too, naming --allow/--deny-upstream
    return config;
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

/** `hls-sidecar url <upstream>`: the proxied (and, with --sign-key, signed) URL for a public base. */
function printUrl(config: Config, upstream: string, base: string): void {
  const target = { url: upstream };
  if (!/^https?:\/\//i.test(upstream)) fail('url: expected an absolute http(s) URL');
  const signer = config.security.signKeys.length ? createSigner(config.security.signKeys, config.security.signTtlSec, Date.now) : undefined;
  const ext = extensionFor(upstream, /\.m3u8?(\?|$)/i.test(upstream) ? 'playlist' : 'segment', config);
  process.stdout.write(`${base.replace(/\/+$/, '')}/${encodeTarget(target, ext, signer?.sign(target))}\n`);
}

function hostPort(address: AddressInfo): string {
  return `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}

async function serve(config: Config): Promise<void> {
  // Read by V8 whenever it sets the next heap limit or grows the young generation, so they apply from here
  // on; kept set after every collection (v8-tuning.ts says why).
  const nodeOptions = (process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
  const tuning = keepV8Tuning(v8Tuning(process.execArgv), semiSpaceCap([...process.execArgv, ...nodeOptions]));
  let app: App;
  let address: AddressInfo;
  try {
    app = createApp(config);
    address = await app.listen();
    tuning.apply(); // the render worker has started, which resets them (v8-tuning.ts)
  } catch (err) {
    // A --req-options file or --hooks module that cannot be used is a bad option too: exit 2, naming it.
    if (err instanceof ConfigError || err instanceof HooksError) fail(err.message);
    throw err;
  }
  const metricsAddress = app.metricsAddress();
  const report = startupReport(config, {
    listen: `${config.tls ? 'https' : 'http'}://${hostPort(address)}`,
    metricsListen: metricsAddress ? `http://${hostPort(metricsAddress)}` : undefined,
    cacheState: app.cache.state(),
    hooks: app.hooks.names(),
    unsupportedHooks: app.unsupportedHooks(),
  });
  app.logger.info(report.fields, report.message);
  for (const warning of report.warnings) app.logger.warn(warning);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // node-windows stops a Windows service by sending this IPC message instead of a signal (deploy/windows/).
  process.on('message', (message) => {
    if (message === 'shutdown') stop('shutdown');
  });
}

export async function main(argv: string[]): Promise<void> {
  refuseUnsupported(argv);
  const parser = yargs(argv)
    .scriptName('hls-sidecar')
    .usage('$0 [options]\n\nHLS reverse proxy: rewrites playlists so every URI routes back through it.')
    .options(yargsOptions())
    .env('HLS_SIDECAR')
    .config('config', 'JSON file with option values (same names as the flags)')
    .command('$0', 'start the proxy')
    .command('url <upstream>', 'print the proxied URL of an upstream URL', (y) =>
      y.positional('upstream', { type: 'string', demandOption: true }).option('base', {
        type: 'string',
        default: 'http://localhost:8080',
        describe: 'public base (scheme://host[:port][/prefix])',
      }),
    )
    .command('sign <upstream>', 'print a signed entry URL (needs --sign-key)', (y) =>
      y.positional('upstream', { type: 'string', demandOption: true }).option('base', {
        type: 'string',
        default: 'http://localhost:8080',
        describe: 'public base (scheme://host[:port][/prefix])',
      }),
    )
    .strict()
    .help()
    .version()
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .fail((msg, err) => fail(msg || err?.message || 'bad arguments'));
  const args = (await parser.parseAsync()) as Record<string, unknown> & { _: Array<string | number> };
  const config = configFrom(args);
  const command = String(args._[0] ?? '');
  if (command === 'url' || command === 'sign') {
    if (command === 'sign' && !config.security.signKeys.length) fail('sign: needs --sign-key');
    printUrl(config, String(args.upstream), String(args.base));
    return;
  }
  await serve(config);
}

main(hideBin(process.argv)).catch((err: unknown) => {
  process.stderr.write(`hls-sidecar: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
