import type { RequestHandler } from 'express';

/** A chain keeps its handlers visible, so tools that list an app's routes can look inside it. */
export type ChainedHandler = RequestHandler & { readonly handlers: readonly RequestHandler[] };

/**
 * Runs `handlers` in order as one express layer. Express matches the path, trims the prefix and
 * rebuilds its `next` for every layer of every request; on the application API's hot path that
 * bookkeeping cost more than some of the handlers themselves. An error, thrown or passed to `next`,
 * skips the rest and goes to express's error handling, as it would between layers.
 */
export function chain(...handlers: RequestHandler[]): ChainedHandler {
  const run: RequestHandler = (req, res, next) => {
    let index = 0;
    const step = (error?: unknown): void => {
      if (error !== undefined && error !== null) {
        next(error);
        return;
      }
      const handler = handlers[index++];
      if (handler === undefined) {
        next();
        return;
      }
      try {
        const returned: unknown = handler(req, res, step);
        // Like express 5: a handler's rejected promise is an error passed to next.
        if (returned instanceof Promise) returned.catch(failed);
      } catch (thrown) {
        failed(thrown);
      }
    };
    const failed = (error: unknown): void => next(error ?? new Error('a handler failed with no error'));
    step();
  };
  return Object.assign(run, { handlers: Object.freeze([...handlers]) });
}
