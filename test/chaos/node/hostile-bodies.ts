// Hostile request bodies for fuzz-backend.test.ts, as fast-check arbitraries: a valid job's fields as ordered
// JSON entries (so odd keys such as `__proto__` survive into the text), mutations of them (wrong types, absurd
// numbers, nasty strings, missing and extra fields), key choices, and header values.
import fc from 'fast-check'
import { type BackendJob, Job, type JsonValue, requestKey } from '../../../shared/src/index.ts'

const JOB_FIELDS = Object.keys(Job.shape) as (keyof Job)[]
export type Entries = [string, JsonValue][]
/** fast-check's JSON values, typed as shared's (what canonicalJson takes). */
export const json = (maxDepth: number) => fc.jsonValue({ maxDepth }).map((v) => v as JsonValue)

export const absurdNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-1, 0, 0.5, 511, 513, 1537, 1664, 4096, 65536, 1e9, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2),
  fc.constantFrom(1e21, 1e308, -1e308, 5e-324, 20.000001, 10.5, 61, 31, 1e6),
)

/** Strings that have broken text handling elsewhere: controls, BOMs, bidi overrides, combining marks, lone surrogates. */
export const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'binary', minLength: 1990, maxLength: 2010 }),
  fc.constantFrom(
    '',
    '\u0000',
    '\uFEFFa lighthouse',
    '\u202Eesuohthgil a',
    'e\u0301\u0301\u0301\u0301',
    '\uD800',
    '\uDFFF\uD800',
    '👩‍👩‍👧‍👦'.repeat(300),
    'Z̷̡̛̗͇͎̪͉̓̈́̅̋a̸̧̙̬̦̓l̴̢͙̳̈́g̵̟̈́̾o̴̧͔̓',
    'ｆｕｌｌｗｉｄｔｈ',
    '\u0085\u2028\u2029\r\n\t',
    '%s%n%x{0}$(x){{x}}',
    "'; DROP TABLE jobs; --",
    '../../../../etc/passwd',
    '<script>alert(1)</script>',
    '🏳️‍🌈'.repeat(700),
    'a'.repeat(2001),
  ),
)

/** A valid job (its key left out): the template every generated body starts from. */
let template: Entries = []
export function useTemplate(job: BackendJob): void {
  template = Object.entries(job).filter(([k]) => k !== 'key')
}

/** One job, as ordered JSON entries so odd keys (`__proto__`) survive into the text. */
export const jobEntries = fc
  .record({ seed: fc.nat({ max: 2 ** 32 - 1 }), prompt: fc.string({ maxLength: 30 }) })
  .map((over): Entries => template.map(([k, v]) => [k, k === 'seed' || k === 'prompt' ? over[k] : v]))

export type Mutation =
  | { kind: 'set'; field: string; value: JsonValue }
  | { kind: 'delete'; field: string }
  | { kind: 'extra'; field: string; value: JsonValue }

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    field: fc.constantFrom(...JOB_FIELDS),
    value: fc.oneof(json(3), absurdNumber, nastyString),
  }),
  fc.record({ kind: fc.constant('delete' as const), field: fc.constantFrom(...JOB_FIELDS, 'key') }),
  fc.record({
    kind: fc.constant('extra' as const),
    field: fc.oneof(
      fc.constantFrom(
        'n',
        'size',
        '__proto__',
        'constructor',
        'prototype',
        'Key',
        'width ',
        'response_format',
      ),
      fc.string({ maxLength: 20 }),
    ),
    value: json(2),
  }),
)

export type KeyMode = 'matching' | 'stale' | 'random' | 'malformed'
export const keyMode = fc.constantFrom<KeyMode>('matching', 'matching', 'stale', 'random', 'malformed')

export function applyMutations(entries: Entries, mutations: Mutation[]): Entries {
  let out = entries.slice()
  for (const m of mutations) {
    if (m.kind === 'delete') out = out.filter(([k]) => k !== m.field)
    else if (m.kind === 'extra') out.push([m.field, m.value])
    else out = out.map(([k, v]): [string, JsonValue] => [k, k === m.field ? m.value : v])
  }
  return out
}

export const text = (entries: Entries) =>
  `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`

/** The request key of what the backend will parse (JSON.parse keeps `__proto__` as an own key). */
export async function keyOf(entries: Entries): Promise<string> {
  const parsed = JSON.parse(text(entries.filter(([k]) => k !== 'key'))) as Parameters<typeof requestKey>[0]
  return requestKey(parsed)
}

export const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/)
export const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,60}$/)
export const contentType = fc.oneof(
  fc.constantFrom(
    null,
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=----x',
    'application/json; charset=utf-16',
    'application/octet-stream',
    'image/png',
    '*/*',
    '',
  ),
  headerValue,
)
export const accept = fc.oneof(
  fc.constantFrom('image/*', 'text/event-stream', '*/*', 'image/png, text/event-stream'),
  headerValue,
)

export const mutatedJob = fc.record({
  entries: jobEntries,
  mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
  mode: keyMode,
  random: hex64,
})
