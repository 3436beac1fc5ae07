/**
 * Plain values as OpenTelemetry attributes: what `sgp.input`, `sgp.output` and metadata keys hold.
 * Never throws: tracing must not break the code it traces.
 */
import type { AttributeValue } from '@opentelemetry/api';

/**
 * JSON text of `value`, or text that says why it has none (a cycle, a BigInt), so that a span
 * still shows that something was there.
 */
export function jsonText(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (error) {
    return JSON.stringify({ unserializable: error instanceof Error ? error.message : String(error) });
  }
}

/**
 * `value` as an attribute: primitives and arrays of one primitive type as they are (so SGP's
 * metadata shows them as such), anything else as JSON text. `undefined` for nothing to record.
 */
export function toAttributeValue(value: unknown): AttributeValue | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return value;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return undefined;
  if (Array.isArray(value) && isHomogeneous(value)) return value as AttributeValue;
  return jsonText(value);
}

function isHomogeneous(values: unknown[]): boolean {
  const kind = typeof values[0];
  if (kind !== 'string' && kind !== 'number' && kind !== 'boolean') return values.length === 0;
  return values.every((value) => typeof value === kind);
}
