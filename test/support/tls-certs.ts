/**
 * Self-signed certificates for tests, made with openssl in a temp dir: an EC P-256 key (fast to generate)
 * and a certificate for 127.0.0.1 / localhost. `encrypted` also writes the key encrypted with a passphrase
 * kept in a file, as hlsd's --tls-key/--tls-pass expect.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCommand } from './processes.js';

export interface TestCert {
  dir: string;
  certFile: string;
  keyFile: string;
  /** Same key, encrypted (PKCS#8, AES-256) with the passphrase in passFile. */
  encryptedKeyFile: string;
  passFile: string;
  cert: string;
  key: string;
  remove(): Promise<void>;
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  const r = await runCommand('openssl', args, { cwd, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

export async function makeTestCert(commonName = '127.0.0.1'): Promise<TestCert> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hls-sidecar-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const encryptedKeyFile = path.join(dir, 'key-encrypted.pem');
  const passFile = path.join(dir, 'pass.txt');
  await openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${commonName}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  await writeFile(passFile, 'correct horse battery staple\n');
  await openssl(dir, ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', keyFile, '-out', encryptedKeyFile, '-passout', `file:${passFile}`]);
  return {
    dir, certFile, keyFile, encryptedKeyFile, passFile,
    cert: await readFile(certFile, 'utf8'),
    key: await readFile(keyFile, 'utf8'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
