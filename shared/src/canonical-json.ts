// Canonical JSON: object keys sorted by code unit, no whitespace, numbers in shortest round-trip form
// (what `JSON.stringify` already writes for a finite number). Used for the request key, so edge and backend hash
// the same bytes. Only plain JSON values are accepted; anything else is a programming error.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number')
    return JSON.stringify(Object.is(value, -0) ? 0 : value)
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const keys = Object.keys(value)
    .filter((k) => value[k] !== undefined)
    .sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] as JsonValue)}`).join(',')}}`
}
