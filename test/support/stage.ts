import { getFixtures, type Fixtures } from './hls-fixtures.js';
import { startOrigin, type Origin } from './origin.js';
import { startProxy, type RunningProxy } from './proxy.js';

/**
 * The common stage of an integration suite: ffmpeg-made fixtures, a real origin serving them, and one
 * in-process proxy with the given options. Registers the mocha hooks (the origin's log is cleared before
 * each test) and returns the parts, available once `before` has run.
 */
export interface Stage {
  readonly fixtures: Fixtures;
  readonly origin: Origin;
  readonly proxy: RunningProxy;
}

export function useStage(proxyOptions: Record<string, unknown> = {}): Stage {
  const parts: { fixtures?: Fixtures; origin?: Origin; proxy?: RunningProxy } = {};
  before(async () => {
    parts.fixtures = await getFixtures();
    parts.origin = await startOrigin({ root: parts.fixtures.root });
    parts.proxy = await startProxy(proxyOptions);
  });
  after(async () => {
    await parts.proxy?.close();
    await parts.origin?.close();
  });
  beforeEach(() => parts.origin?.clearLog());
  return {
    get fixtures() {
      return parts.fixtures!;
    },
    get origin() {
      return parts.origin!;
    },
    get proxy() {
      return parts.proxy!;
    },
  };
}
