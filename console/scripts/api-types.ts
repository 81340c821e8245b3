/**
 * Renders the served OpenAPI document as the `paths` type openapi-fetch reads (the shape openapi-typescript
 * writes), so the console's one typed client follows the API: a route or schema change breaks the console's
 * type-check instead of a page. Only what the document uses is covered: $ref, type (and type lists), enum,
 * const, oneOf/anyOf, allOf, properties/required, additionalProperties and items.
 */

type Json = Record<string, unknown>;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function key(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

function refName(ref: string, section: string): string {
  const prefix = `#/components/${section}/`;
  if (!ref.startsWith(prefix)) throw new Error(`unsupported $ref ${ref}`);
  return ref.slice(prefix.length);
}

function typeOfSchema(schema: Json | boolean | undefined): string {
  if (schema === undefined || schema === true) return 'unknown';
  if (schema === false) return 'never';
  if (typeof schema.$ref === 'string') {
    return `components["schemas"][${JSON.stringify(refName(schema.$ref, 'schemas'))}]`;
  }
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  const alternatives = (schema.oneOf ?? schema.anyOf) as Json[] | undefined;
  if (alternatives) return `(${alternatives.map(typeOfSchema).join(' | ')})`;
  if (Array.isArray(schema.allOf)) return `(${(schema.allOf as Json[]).map(typeOfSchema).join(' & ')})`;
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string | undefined];
  return types.map((type) => typeOfType(type, schema)).join(' | ');
}

function typeOfType(type: string | undefined, schema: Json): string {
  switch (type) {
    case 'string':
      return 'string';
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      return `${wrap(typeOfSchema(schema.items as Json | undefined))}[]`;
    default:
      return typeOfObject(schema);
  }
}

function wrap(type: string): string {
  return /^[\w"[\]]+$/.test(type) ? type : `(${type})`;
}

function typeOfObject(schema: Json): string {
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required ?? []) as string[]);
  const fields = Object.entries(properties).map(
    ([name, property]) => `${key(name)}${required.has(name) ? '' : '?'}: ${typeOfSchema(property)};`,
  );
  const extra = schema.additionalProperties;
  if (extra !== undefined && extra !== false) {
    const value = extra === true ? 'unknown' : typeOfSchema(extra as Json);
    // An index signature must admit the named fields' types too.
    const named = Object.values(properties).map(typeOfSchema);
    fields.push(`[key: string]: ${[...new Set([value, ...named, 'undefined'])].join(' | ')};`);
  }
  if (fields.length === 0 && !('properties' in schema)) return 'Record<string, unknown>';
  return `{ ${fields.join(' ')} }`;
}

/** A reference to a component (response, parameter, header), followed to the object itself. */
function resolve(document: Json, value: Json, section: string): Json {
  if (typeof value.$ref !== 'string') return value;
  const components = document.components as Record<string, Record<string, Json>>;
  const found = components[section]?.[refName(value.$ref, section)];
  if (!found) throw new Error(`dangling $ref ${value.$ref}`);
  return found;
}

function parametersType(document: Json, shared: Json[], own: Json[]): string {
  const byPlace: Record<string, string[]> = { query: [], header: [], path: [], cookie: [] };
  const seen = new Map<string, Json>();
  for (const raw of [...shared, ...own]) {
    const parameter = resolve(document, raw, 'parameters');
    seen.set(`${parameter.in}:${parameter.name}`, parameter);
  }
  const requiredPlaces = new Set<string>();
  for (const parameter of seen.values()) {
    const place = parameter.in as string;
    const required = parameter.required === true;
    if (required) requiredPlaces.add(place);
    byPlace[place]?.push(
      `${key(parameter.name as string)}${required ? '' : '?'}: ${typeOfSchema(parameter.schema as Json)};`,
    );
  }
  const places = Object.entries(byPlace).map(([place, fields]) =>
    fields.length === 0
      ? `${place}?: never;`
      : `${place}${requiredPlaces.has(place) ? '' : '?'}: { ${fields.join(' ')} };`,
  );
  return `{ ${places.join(' ')} }`;
}

function contentType(content: Json | undefined): string {
  if (!content) return 'never';
  const entries = Object.entries(content).map(
    ([media, body]) => `${JSON.stringify(media)}: ${typeOfSchema((body as Json).schema as Json)};`,
  );
  return `{ ${entries.join(' ')} }`;
}

function operationType(document: Json, operation: Json, shared: Json[]): string {
  const parameters = parametersType(document, shared, (operation.parameters ?? []) as Json[]);
  const body = operation.requestBody as Json | undefined;
  const requestBody = body
    ? `requestBody${body.required === false ? '?' : ''}: { content: ${contentType(body.content as Json)} };`
    : 'requestBody?: never;';
  const responses = Object.entries((operation.responses ?? {}) as Record<string, Json>).map(
    ([status, raw]) => {
      const response = resolve(document, raw, 'responses');
      const content = response.content as Json | undefined;
      return `${/^\d+$/.test(status) ? status : key(status)}: { headers: { [name: string]: unknown }; content${content ? '' : '?'}: ${contentType(content)} };`;
    },
  );
  return `{ parameters: ${parameters}; ${requestBody} responses: { ${responses.join(' ')} } }`;
}

/** The TypeScript declarations (`paths` and `components`) for an OpenAPI 3.1 document. */
export function renderApiTypes(document: Json): string {
  const paths = Object.entries(document.paths as Record<string, Json>).map(([path, item]) => {
    const shared = (item.parameters ?? []) as Json[];
    const methods = METHODS.map((method) =>
      item[method]
        ? `${method}: ${operationType(document, item[method] as Json, shared)};`
        : `${method}?: never;`,
    );
    return `${JSON.stringify(path)}: { parameters: ${parametersType(document, shared, [])}; ${methods.join(' ')} };`;
  });
  const schemas = Object.entries(((document.components as Json).schemas ?? {}) as Record<string, Json>).map(
    ([name, schema]) => `${key(name)}: ${typeOfSchema(schema)};`,
  );
  return [
    '// Generated from the served OpenAPI document by `npx tsx console/scripts/generate-api-types.ts`',
    '// (console/scripts/generate-api-types.ts); do not edit. A test fails when it is out of date.',
    '',
    `export interface paths { ${paths.join('\n')} }`,
    '',
    `export interface components { schemas: { ${schemas.join('\n')} } }`,
    '',
  ].join('\n');
}
