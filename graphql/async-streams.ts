/** Small helpers for subscription streams. */

/**
 * Wraps a stream so `cleanup` runs exactly once when it ends for any reason: finished, failed,
 * or closed by the client — also when the client leaves before the first value.
 */
export function withCleanup<T>(
  source: AsyncIterable<T>,
  cleanup: () => void,
): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let cleaned = false;
  const clean = () => {
    if (cleaned) return;
    cleaned = true;
    cleanup();
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      try {
        const result = await iterator.next();
        if (result.done) clean();
        return result;
      } catch (err) {
        clean();
        throw err;
      }
    },
    // The source is not returned: returning a stream's iterator destroys the stream with an
    // AbortError that mercurius logs as an error. The subscription's context ends the queue
    // itself when the client leaves, which finishes the source.
    return() {
      clean();
      return Promise.resolve({ done: true, value: undefined });
    },
    throw(err?: unknown) {
      clean();
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    },
  };
}

/** The values of `first`, then those of `rest`. */
export async function* concat<T>(first: Iterable<T>, rest: AsyncIterable<T>): AsyncGenerator<T> {
  yield* first;
  yield* rest;
}

/** Only the values that pass. */
export async function* filter<T>(source: AsyncIterable<T>, keep: (value: T) => boolean) {
  for await (const value of source) if (keep(value)) yield value;
}

/** Each value, transformed. */
export async function* map<T, U>(source: AsyncIterable<T>, transform: (value: T) => U) {
  for await (const value of source) yield transform(value);
}
