import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { PACKAGE_ROOT } from '../../src/paths.js';

/** The repository's infra folder: the compose stack and the Kubernetes manifests. */
export const INFRA = path.join(PACKAGE_ROOT, 'infra');

/** Every YAML file below `directory`, its subfolders included. */
export async function yamlFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true });
  return entries.filter((name) => /\.ya?ml$/.test(name)).map((name) => path.join(directory, name));
}

/** Every document of a YAML file, failing on any syntax error or warning. */
export async function parseYaml(file: string): Promise<unknown[]> {
  const documents = parseAllDocuments(await readFile(file, 'utf8'));
  return documents.map((document) => {
    const problems = [...document.errors, ...document.warnings].map((problem) => problem.message);
    expect(problems, path.relative(PACKAGE_ROOT, file)).to.deep.equal([]);
    return document.toJS();
  });
}
