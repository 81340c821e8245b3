import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { chain } from '../src/http/chain.js';

/** Serves `handler` under /x with an error handler that names the error, and GETs /x once. */
async function get(handler: RequestHandler): Promise<{ status: number; body: string }> {
  const app = express();
  app.use('/x', handler);
  app.use((_req, res) => {
    res.status(404).send('fell through');
  });
  const named: ErrorRequestHandler = (error, _req, res, _next) => {
    res.status(500).send(`error: ${(error as Error).message}`);
  };
  app.use(named);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
    return { status: response.status, body: await response.text() };
  } finally {
    server.close();
  }
}

describe('chain', () => {
  it('runs handlers in order, each seeing what the earlier ones set', async () => {
    const seen: string[] = [];
    const result = await get(
      chain(
        (req, _res, next) => {
          seen.push(`first at ${req.baseUrl}`);
          next();
        },
        (_req, res) => {
          seen.push('second');
          res.send('done');
        },
      ),
    );
    expect(result).to.deep.equal({ status: 200, body: 'done' });
    expect(seen).to.deep.equal(['first at /x', 'second']);
  });

  it('skips the rest on an error passed to next, thrown, or rejected', async () => {
    const never: RequestHandler = (_req, res) => {
      res.send('should not run');
    };
    const failures: RequestHandler[] = [
      (_req, _res, next) => next(new Error('passed')),
      () => {
        throw new Error('thrown');
      },
      async () => {
        throw new Error('rejected');
      },
    ];
    const bodies = [];
    for (const failure of failures) bodies.push((await get(chain(failure, never))).body);
    expect(bodies).to.deep.equal(['error: passed', 'error: thrown', 'error: rejected']);
  });

  it('falls through to the next layer when every handler calls next', async () => {
    const pass: RequestHandler = (_req, _res, next) => next();
    expect(await get(chain(pass, pass))).to.deep.equal({ status: 404, body: 'fell through' });
  });
});
