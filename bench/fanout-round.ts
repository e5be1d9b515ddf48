/**
 * One round of the live segment fan-out: N viewers each ask once, at evenly spread instants over
 * `spreadMs`, for a segment URL nobody asked for before (as a live channel publishes one: viewers find it at
 * their next playlist reload, within one target duration). The origin's access log (its `live/` location)
 * counts the downloads that reached it: one per viewer for a proxy without copies, about one in all for
 * one that keeps them.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { request, type Agent } from 'undici';
import { linesSince, logMark } from './nginx-servers.js';

export interface FanoutRoundOptions {
  /** The origin's document root, with a `live/` directory. */
  contentRoot: string;
  liveLog: string;
  /** The URL of an origin path through the subject. */
  url: (originPath: string) => string;
  viewers: number;
  spreadMs: number;
  segment: Buffer;
  agent: Agent;
}

export interface FanoutRound {
  downloads: number;
  errors: number;
}

let published = 0;

export async function fanoutRound(o: FanoutRoundOptions): Promise<FanoutRound> {
  const file = `live/fanout-${process.pid}-${++published}.ts`;
  writeFileSync(path.join(o.contentRoot, file), o.segment);
  const url = o.url(file);
  const mark = await logMark(o.liveLog);
  let errors = 0;
  await Promise.all(Array.from({ length: o.viewers }, async (_, i) => {
    await delay((i / o.viewers) * o.spreadMs);
    try {
      const res = await request(url, { dispatcher: o.agent });
      let bytes = 0;
      for await (const chunk of res.body) bytes += (chunk as Buffer).length;
      if (res.statusCode >= 300 || bytes !== o.segment.length) errors++;
    } catch {
      errors++;
    }
  }));
  await delay(200); // nginx writes its access-log line as each request ends
  const downloads = (await linesSince(o.liveLog, mark)).filter((l) => l.includes(`/${file} `)).length;
  return { downloads, errors };
}
