/**
 * Headless Chromium (Debian's) for the real-player tests. As root it needs --no-sandbox; background
 * networking is off because this machine's closed network refuses Chromium's own connections; autoplay so
 * the player page starts without a gesture. `selfSigned`: the front uses a throwaway certificate.
 */
import { chromium, type Browser } from 'playwright-core';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--autoplay-policy=no-user-gesture-required'];

export function launchChromium(opts: { selfSigned?: boolean } = {}): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: opts.selfSigned ? [...ARGS, '--ignore-certificate-errors'] : ARGS });
}
