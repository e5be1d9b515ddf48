/**
 * In-process request coalescing: concurrent calls for one key share one execution of the work, so a burst
 * of viewers costs one upstream fetch per process. The flight is forgotten as soon as it settles; what it
 * produced lives in the store.
 */
export interface SingleFlight<T> {
  /** joined: true when the call attached to a flight already in the air. */
  run(key: string, work: () => Promise<T>): { promise: Promise<T>; joined: boolean };
  readonly size: number;
}

export function createSingleFlight<T>(): SingleFlight<T> {
  const flights = new Map<string, Promise<T>>();

  return {
    run(key, work) {
      const existing = flights.get(key);
      if (existing) return { promise: existing, joined: true };
      const promise: Promise<T> = (async () => work())().finally(() => {
        if (flights.get(key) === promise) flights.delete(key);
      });
      // Every caller may have given up (viewer gone); the flight still settles, and must not surface as an
      // unhandled rejection.
      promise.catch(() => undefined);
      flights.set(key, promise);
      return { promise, joined: false };
    },
    get size() {
      return flights.size;
    },
  };
}
