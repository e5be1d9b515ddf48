/**
 * Shared pieces of the deployment-kit tests (test/integration/deploy-*.test.ts): the repository root, the
 * option table seen as environment variables, explicit template substitution, and parsers for Dockerfiles
 * and systemd units. Front-server parsers (nginx, XML, IIS) are in deploy-parsers.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPTIONS, type OptionSpec } from '../../src/config-options.js';
import { runCommand } from './processes.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const readRepoFile = (rel: string): string => readFileSync(path.join(ROOT, rel), 'utf8');

/** `--trust-proxy` → `HLS_SIDECAR_TRUST_PROXY`, the rule cli.ts applies. */
export const optionEnvName = (option: string): string => `HLS_SIDECAR_${option.toUpperCase().replace(/-/g, '_')}`;
export const OPTION_BY_ENV: ReadonlyMap<string, OptionSpec> = new Map(
  Object.entries(OPTIONS).map(([name, spec]) => [optionEnvName(name), spec as OptionSpec]),
);
export const optionDefault = (name: keyof typeof OPTIONS): number => Number((OPTIONS[name] as OptionSpec).default);

/** A value the proxy's option parser accepts for this option type (config.ts: whole numbers, true/false/1/0). */
export function validEnvValue(envVar: string, value: string): boolean {
  const type = OPTION_BY_ENV.get(envVar)?.type;
  if (type === 'number') return /^\d+$/.test(value);
  if (type === 'boolean') return /^(true|false|1|0)$/.test(value);
  return type !== undefined;
}

/**
 * Rows that move the front caches' directories (nginx/upstream.conf, deploy/compose-nginx.conf) to `dir`
 * and `dir`-segments, siblings as in /var/cache: nginx creates them (not their parent), even for
 * `nginx -t`, and tests never touch /var/cache.
 */
export const cacheDirRows = (dir: string): Array<[string, string]> => [
  ['/var/cache/nginx-hls-sidecar-segments ', `${dir}-segments `],
  ['/var/cache/nginx-hls-sidecar ', `${dir} `],
];

/**
 * Applies [from, to] string replacements, each of which must occur exactly once in the template: the
 * table is the complete list of edits between the file as shipped and the file a validator sees.
 */
export function substitute(text: string, table: ReadonlyArray<readonly [string, string]>, file: string): string {
  return table.reduce((t, [from, to]) => {
    const n = t.split(from).length - 1;
    if (n !== 1) throw new Error(`${file}: "${from}" occurs ${n} times, expected exactly once`);
    return t.split(from).join(to);
  }, text);
}

/** "40s" → 40 (the duration form nginx and Compose use here); NaN otherwise. */
/** An nginx time (`30s`, `250ms`) in seconds; NaN for anything else. */
export const seconds = (v: string | undefined): number => {
  const m = /^(\d+)(ms|s)$/.exec(v ?? '');
  return m ? Number(m[1]) / (m[2] === 'ms' ? 1000 : 1) : NaN;
};

export interface DockerStage {
  from: string;
  name: string | undefined;
  instructions: Array<{ op: string; args: string }>;
}

/** Stages with their instructions; continuation lines joined, comments dropped, global ARG defaults applied to FROM. */
export function parseDockerfile(text: string): DockerStage[] {
  const globals: Record<string, string> = {};
  const stages: DockerStage[] = [];
  const logical = text.replace(/\\\r?\n(?:[ \t]*#[^\n]*\n)*/g, ' ').split(/\r?\n/);
  for (const line of logical.map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    const stage = stages.at(-1);
    if (upper === 'FROM') {
      const [image = '', as, name] = args.split(/\s+/);
      const from = image.replace(/\$\{?(\w+)\}?/g, (_, v: string) => globals[v] ?? '');
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (!stage) {
      if (upper !== 'ARG') throw new Error(`Dockerfile: ${op} before the first FROM`);
      const [k = '', v = ''] = args.split('=');
      globals[k] = v;
    } else stage.instructions.push({ op: upper, args });
  }
  return stages;
}

/** `[Section]` → list of [key, value] in file order (keys may repeat, as in systemd). */
export function parseUnit(text: string): Map<string, Array<[string, string]>> {
  const sections = new Map<string, Array<[string, string]>>();
  let current: Array<[string, string]> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1] ?? '', current);
      continue;
    }
    const kv = /^([A-Za-z0-9]+)\s*=\s*(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`unit: cannot parse "${line}"`);
    current.push([kv[1] ?? '', kv[2] ?? '']);
  }
  return sections;
}

/**
 * [listen, loopback listen] rows for a substitution table: each `listen <addr>` of a template moves to
 * 127.0.0.1 on the port given (a privileged or IPv6 listener cannot be used by a test), parameters kept.
 */
export function loopbackListenRows(rows: ReadonlyArray<readonly [string, number]>): Array<[string, string]> {
  return rows.map(([listen, port]) => [listen, listen.replace(/listen [^\s;]+/, `listen 127.0.0.1:${port}`)]);
}

/**
 * A Compose service's `environment:` map as the container would see it: `${VAR:-default}` / `${VAR-default}`
 * take their default (the rehearsal's "shell" sets nothing), `${VAR}` becomes empty, and entries without a
 * value (pass-through from the shell) are left out, as Compose does when the shell does not set them.
 */
export function composeEnvironment(environment: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(environment ?? {})) {
    if (value === null || value === undefined) continue;
    out[key] = String(value).replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, def: string | undefined) => def ?? '');
  }
  return out;
}

/**
 * A template as the nginx image's entrypoint renders it (20-envsubst-on-templates): the real envsubst,
 * replacing only the variables named in `env`, so nginx's own $variables stay.
 */
export async function renderNginxTemplate(text: string, env: Record<string, string>): Promise<string> {
  const names = Object.keys(env).map((n) => `\${${n}}`).join(' ');
  const r = await runCommand('sh', ['-c', 'printf %s "$TEMPLATE" | envsubst "$NAMES"'], { env: { ...process.env, ...env, TEMPLATE: text, NAMES: names } });
  if (r.code !== 0) throw new Error(`envsubst: ${r.stderr}`);
  return r.stdout;
}
