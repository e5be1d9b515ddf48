import { readFile } from 'node:fs/promises';

/**
 * What a process holds, read from /proc: its resident memory, and its TCP sockets to one address (issue
 * #15: "upstream sockets stay bounded; RSS stays bounded" while a fault lasts). /proc/<pid>/net/tcp lists
 * the sockets of the process's own network namespace, which on the fault stage is the replica's host alone.
 */

/** VmRSS of a process in MiB, or NaN when it is gone. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kb === undefined ? NaN : Number(kb) / 1024;
}

/** `a.b.c.d:port` as /proc/net/tcp writes it: the address's bytes in host (little-endian) order, hex. */
export function procNetAddress(address: string, port: number): string {
  const bytes = address.split('.').map((b) => Number(b).toString(16).padStart(2, '0').toUpperCase());
  return `${bytes.reverse().join('')}:${port.toString(16).padStart(4, '0').toUpperCase()}`;
}

/** IPv4 TCP sockets (any state but LISTEN) of the process's namespace whose remote end is address:port. */
export function countSocketsTo(procNetTcp: string, address: string, port: number): number {
  const remote = procNetAddress(address, port);
  let n = 0;
  for (const line of procNetTcp.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st ...; st 0A is LISTEN.
    if (f[2] === remote && f[3] !== '0A') n++;
  }
  return n;
}

export async function socketsTo(pid: number, address: string, port: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/net/tcp`, 'utf8').catch(() => '');
  return text ? countSocketsTo(text, address, port) : NaN;
}
