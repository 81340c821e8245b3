import { readFile } from 'node:fs/promises';
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import { PACKAGE_ROOT } from '../paths.js';
import { CONSOLE_CSP } from './security-headers.js';

/** Where `npm run build` puts the console (console/vite.config.ts), from a checkout and in the image. */
export const CONSOLE_DIST_DIR = path.join(PACKAGE_ROOT, 'dist', 'console');

/** Hashed file names change with their contents, so a browser may keep them for a year. */
const HASHED_ASSETS = /^\/assets\//;

/**
 * The operator console under /console: its built files, and index.html for every other GET below it (the
 * console routes in the browser: /console/tenants/acme is a page of the console, not a file). index.html
 * is never cached, so a new build reaches the next page load; the hashed assets are cached for good.
 */
export function consoleAssets(dir = CONSOLE_DIST_DIR, csp = CONSOLE_CSP): RequestHandler {
  const files = express.static(dir, {
    index: false,
    fallthrough: true,
    setHeaders(res, filePath) {
      const relative = `/${path.relative(dir, filePath).split(path.sep).join('/')}`;
      res.setHeader(
        'Cache-Control',
        HASHED_ASSETS.test(relative) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    res.setHeader('Content-Security-Policy', csp);
    // /console without the slash: relative asset URLs resolve against /console/.
    if (req.originalUrl === '/console' || req.originalUrl.startsWith('/console?')) {
      res.redirect(301, '/console/');
      return;
    }
    files(req, res, () => {
      // A missing file under assets/ is a 404, not the page: a stale page asking for an old chunk must fail.
      if (HASHED_ASSETS.test(req.path) || path.extname(req.path) !== '') return next();
      readFile(path.join(dir, 'index.html'), 'utf8').then(
        (html) => {
          res.setHeader('Cache-Control', 'no-cache');
          res.type('html').send(html);
        },
        () => {
          res
            .status(503)
            .type('text')
            .send('The console is not built: run `npm run build` (it builds into dist/console).\n');
        },
      );
    });
  };
}
