/**
 * What the model reads of a tool's input schema, without what it does not need to call it right:
 * the `$schema` URI and the bounds the server enforces anyway (string lengths, array sizes,
 * JavaScript's safe-integer limits). Types, enums, patterns, required fields, descriptions,
 * defaults and `additionalProperties: false` stay. A call past a bound is refused by the server
 * with a message naming the field and the limit, so nothing is lost but tokens.
 */

/** Keywords dropped from every schema object. */
const DROPPED = new Set(['$schema', 'minLength', 'maxLength', 'minItems', 'maxItems']);
/** Keywords whose value is a map of names to schemas. */
const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions'];
/** Keywords whose value is a schema. */
const SCHEMA_VALUES = [
  'items',
  'additionalProperties',
  'propertyNames',
  'not',
  'contains',
  'if',
  'then',
  'else',
];
/** Keywords whose value is a list of schemas. */
const SCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];

export function leanSchema(schema: unknown): unknown {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    if (DROPPED.has(key)) continue;
    if (
      (key === 'maximum' || key === 'minimum') &&
      typeof value === 'number' &&
      Math.abs(value) >= Number.MAX_SAFE_INTEGER
    )
      continue;
    if (SCHEMA_MAPS.includes(key) && value && typeof value === 'object' && !Array.isArray(value))
      out[key] = Object.fromEntries(Object.entries(value).map(([name, s]) => [name, leanSchema(s)]));
    else if (SCHEMA_VALUES.includes(key))
      out[key] = Array.isArray(value) ? value.map(leanSchema) : leanSchema(value);
    else if (SCHEMA_LISTS.includes(key) && Array.isArray(value)) out[key] = value.map(leanSchema);
    else out[key] = value;
  }
  return out;
}

/** A tools/list result's tools with lean input schemas (and no `$schema` on output schemas). */
export function leanTools(tools: unknown[]): unknown[] {
  return tools.map((tool) => {
    if (!tool || typeof tool !== 'object') return tool;
    const t = tool as { inputSchema?: unknown; outputSchema?: unknown };
    const output =
      t.outputSchema && typeof t.outputSchema === 'object'
        ? Object.fromEntries(Object.entries(t.outputSchema).filter(([k]) => k !== '$schema'))
        : t.outputSchema;
    return {
      ...t,
      ...(t.inputSchema !== undefined ? { inputSchema: leanSchema(t.inputSchema) } : {}),
      ...(output !== undefined ? { outputSchema: output } : {}),
    };
  });
}
