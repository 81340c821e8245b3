import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RequestHandler } from 'express';
import { PACKAGE_ROOT } from '../../paths.js';
import { openApiDocument } from '../openapi/openapi-document.js';

/** `GET /openapi.json`: the API description, no token needed. Built once, when the app is. */
export function openApiRoute(): RequestHandler {
  const { version } = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  const body = JSON.stringify(openApiDocument(version));
  return (_req, res) => {
    res.type('application/json').send(body);
  };
}
