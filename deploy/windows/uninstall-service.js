// Removes the hls-sidecar Windows service installed by install-service.js. From an elevated prompt in
// the hls-sidecar folder (node-windows linked as described in install-service.js):
//
//   npm install -g node-windows && npm link node-windows     (if not done already)
//   node deploy\windows\uninstall-service.js
//
// The service is stopped first (gracefully: the proxy gets its shutdown message and drains), then
// unregistered, and its winsw files in dist\src\daemon are deleted. The env settings stored with the
// service go with it; keep your env file to install again.
//
// Validate: sc.exe query hlssidecar   -> "The specified service does not exist"
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Must match install-service.js: node-windows finds the service by name and script path.
const SERVICE_NAME = 'hls-sidecar';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(root, 'dist', 'src', 'cli.js');

function fail(message) {
  console.error(`uninstall-service: ${message}`);
  process.exit(1);
}

if (process.platform !== 'win32') fail('Windows only; on Linux: systemctl disable --now hls-sidecar');

let nodeWindows;
try {
  nodeWindows = (await import('node-windows')).default;
} catch {
  fail('node-windows not found: run "npm install -g node-windows" and "npm link node-windows" here first');
}

const svc = new nodeWindows.Service({ name: SERVICE_NAME, script });
svc.on('alreadyuninstalled', () => console.log(`uninstall-service: ${svc.id} is not installed`));
svc.on('error', (err) => fail(String(err)));
svc.on('uninstall', () => console.log(`uninstall-service: ${svc.id} stopped and removed`));
svc.uninstall();
