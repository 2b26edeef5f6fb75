/**
 * The tool-schema portability lint that `mcp-inspector --cli --strict --method tools/list` runs, ported from
 * @modelcontextprotocol/inspector 2.12.0 (core/json/schemaLint.ts, bundled in clients/cli/build/index.js).
 * The inspector itself needs Node >= 22.19, so this port is what runs under `npm test` on Node 20.
 * Rules: boolean-schema (error), type-union, remote-ref and untyped-schema (warnings).
 */

export interface SchemaFinding {
  rule: 'boolean-schema' | 'type-union' | 'remote-ref' | 'untyped-schema';
  severity: 'error' | 'warning';
  /** e.g. "search outputSchema.properties.results.items.properties.symbol", as the inspector prints Path. */
  where: string;
}

type Json = Record<string, unknown>;

const BOOLEAN_VALUED = new Set(['additionalProperties', 'unevaluatedProperties', 'additionalItems', 'unevaluatedItems']);
const SUBSCHEMA = ['items', 'contains', 'not', 'propertyNames', 'if', 'then', 'else', 'additionalProperties',
  'unevaluatedProperties', 'additionalItems', 'unevaluatedItems', 'contentSchema'];
const SUBSCHEMA_ARRAY = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const SUBSCHEMA_MAP = ['properties', 'patternProperties', 'dependentSchemas', 'dependencies', '$defs', 'definitions'];
// `if` alone constrains nothing, so it is checked as a pair below, as the inspector does.
const CONSTRAINING = new Set(['type', 'enum', 'const', 'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum',
  'exclusiveMinimum', 'maxLength', 'minLength', 'pattern', 'format', 'contentMediaType', 'contentEncoding',
  'contentSchema', 'maxItems', 'minItems', 'uniqueItems', 'maxContains', 'minContains', 'maxProperties',
  'minProperties', 'required', 'dependentRequired', 'allOf', 'anyOf', 'oneOf', 'not', 'items', 'prefixItems',
  'contains', 'additionalItems', 'unevaluatedItems', 'properties', 'patternProperties', 'additionalProperties',
  'unevaluatedProperties', 'propertyNames', 'dependentSchemas', 'dependencies', '$ref', '$dynamicRef', '$recursiveRef']);
const JSON_TYPES = new Set(['null', 'boolean', 'object', 'array', 'number', 'string', 'integer']);
const MAX_DEPTH = 64;

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const child = (parent: string, key: string) =>
  /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? (parent === '' ? key : `${parent}.${key}`) : `${parent}[${JSON.stringify(key)}]`;

function forEachSubschema(node: Json, path: string, visit: (sub: unknown, path: string, keyword: string) => void): void {
  for (const key of SUBSCHEMA_MAP) {
    const map = node[key];
    if (isRecord(map)) for (const [name, sub] of Object.entries(map)) visit(sub, child(child(path, key), name), key);
  }
  for (const key of SUBSCHEMA_ARRAY) {
    const list = node[key];
    if (Array.isArray(list)) list.forEach((sub, i) => visit(sub, `${child(path, key)}[${i}]`, key));
  }
  for (const key of SUBSCHEMA) {
    if (!(key in node)) continue;
    const value = node[key];
    if (key === 'items' && Array.isArray(value)) value.forEach((sub, i) => visit(sub, `${child(path, key)}[${i}]`, key));
    else visit(value, child(path, key), key);
  }
}

function declaresAnyId(node: unknown, depth = 0): boolean {
  if (depth > MAX_DEPTH || !isRecord(node)) return false;
  if (typeof node.$id === 'string' && node.$id !== '') return true;
  let found = false;
  forEachSubschema(node, '', (sub) => {
    found ||= declaresAnyId(sub, depth + 1);
  });
  return found;
}

export function lintSchema(schema: unknown, where: string): SchemaFinding[] {
  const findings: SchemaFinding[] = [];
  const embeddedIds = declaresAnyId(schema);
  const at = (path: string) => (path === '' ? where : `${where}.${path}`);
  const walk = (node: unknown, path: string, keyword: string | undefined, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    if (typeof node === 'boolean') {
      if (keyword === undefined || !BOOLEAN_VALUED.has(keyword)) findings.push({ rule: 'boolean-schema', severity: 'error', where: at(path) });
      return;
    }
    if (!isRecord(node)) return;
    const { type, $ref } = node;
    if (Array.isArray(type) && type.length > 0 && new Set(type).size === type.length && type.every((t) => JSON_TYPES.has(t as string))) {
      findings.push({ rule: 'type-union', severity: 'warning', where: at(path) });
    }
    if (typeof $ref === 'string' && $ref !== '' && !$ref.startsWith('#') && !embeddedIds) {
      findings.push({ rule: 'remote-ref', severity: 'warning', where: at(path) });
    }
    const constrains = Object.keys(node).some((key) => CONSTRAINING.has(key)) || ('if' in node && ('then' in node || 'else' in node));
    if (!constrains && keyword !== 'not') findings.push({ rule: 'untyped-schema', severity: 'warning', where: at(path) });
    forEachSubschema(node, path, (sub, subPath, subKeyword) => walk(sub, subPath, subKeyword, depth + 1));
  };
  walk(schema, '', undefined, 0);
  return findings;
}

/** Every finding over a tools/list result's input and output schemas. */
export function lintTools(tools: { name: string; inputSchema?: unknown; outputSchema?: unknown }[]): SchemaFinding[] {
  return tools.flatMap((tool) => [
    ...(tool.inputSchema !== undefined ? lintSchema(tool.inputSchema, `${tool.name} inputSchema`) : []),
    ...(tool.outputSchema !== undefined ? lintSchema(tool.outputSchema, `${tool.name} outputSchema`) : []),
  ]);
}
