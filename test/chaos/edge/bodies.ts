// fast-check arbitraries for hostile generation bodies: unicode edge cases, bodies that are invalid by construction
// (each bad field known) or valid by construction (per api.md, not via the shared schema), and garbage bodies.
import fc from 'fast-check'
import { MODEL_IDS } from '../../../shared/src/index.ts'

type Json = fc.JsonValue

// --- unicode ------------------------------------------------------------------------------------------------------

const SPECIAL = [
  '\u0000',
  '\u0001',
  '\u001b',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u00ad',
  '\u034f',
  '\u061c',
  '\u115f',
  '\u180e',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u200e',
  '\u200f',
  '\u2028',
  '\u2029',
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2060',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\u3000',
  '\ufeff',
  '\ufffc',
  '\ufffd',
  '\ufffe',
  '\uffff',
  '\ufb01',
  '\ufb03',
  '\uff21',
  '\uff5e',
  '\uff9e',
  '\u0130',
  '\u1e9e',
  'ß',
  'ǅ',
  'ﷺ',
  'ـ',
  'مرحبا',
  'שלום',
  '\u{1f600}',
  '\u{1f469}\u200d\u{1f469}\u200d\u{1f467}',
  '\u{1f3f3}\ufe0f\u200d\u{1f308}',
  '\u{10ffff}',
  '\u{e0001}',
  '\u{e007f}',
  '&amp;',
  '&amp;amp;',
  '&lt;script&gt;',
  '&#0;',
  '&#x0;',
  '&#xD800;',
  '&#1114112;',
  '&#99999999999;',
  '&nbsp;',
  '&',
  '&#',
  '\\',
  '"',
  "'",
  '`',
  '$' + '{x}', // a template placeholder, literally
  '<!--',
  ']]>',
  '%00',
  '%s%n',
  '\r\n',
  '\t',
  '\u000b',
  '\u000c',
  '{{7*7}}',
  '../',
  'Z\u0324\u0354\u0367\u0311\u0313a\u0308\u0356\u032d',
]

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c))
const combiningRun = fc
  .array(fc.integer({ min: 0x300, max: 0x36f }), { minLength: 1, maxLength: 80 })
  .map((cs) => `a${String.fromCharCode(...cs)}`)
const piece = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.string({ unit: 'binary-ascii', maxLength: 6 }),
  loneSurrogate,
  fc.constantFrom(...SPECIAL),
  combiningRun,
)

const codePoints = (s: string) => Array.from(s) // a lone surrogate is one

/** Whole strings of exactly `n` code points that stress normalization: expanding, vanishing, astral characters. */
const extreme = (n: number) =>
  ['x', '\ufb03', '\u0130', '\u0300', '&amp;', '\u{1f600}', ' ', '\u0000', '\ud800'].map((unit) =>
    codePoints(unit.repeat(n)).slice(0, n).join(''),
  )

/**
 * Hostile text of min..max characters, counted as zod counts them: in code points (an astral character is one,
 * though two UTF-16 units).
 */
function hostileText(min: number, max: number): fc.Arbitrary<string> {
  const mixed = fc.array(piece, { maxLength: 40 }).map((ps) => {
    const cps = codePoints(ps.join(''))
    while (cps.length < min) cps.push('y')
    return cps.slice(0, max).join('')
  })
  return fc.oneof({ weight: 5, arbitrary: mixed }, { weight: 1, arbitrary: fc.constantFrom(...extreme(max)) })
}

// --- generation bodies --------------------------------------------------------------------------------------------

const KNOWN = [
  'prompt',
  'negative_prompt',
  'model',
  'n',
  'size',
  'seed',
  'prior_steps',
  'prior_guidance',
  'decoder_steps',
  'decoder_guidance',
  'output_format',
  'response_format',
] as const
type Field = (typeof KNOWN)[number]

const SIZES = [512, 640, 768, 896, 1024, 1152, 1280, 1408, 1536]
/** api.md: "WxH", W and H multiples of 128 in 512..1536. */
const validSize = (s: unknown) =>
  typeof s === 'string' &&
  /^\d{3,4}x\d{3,4}$/.test(s) &&
  s.split('x').every((v) => SIZES.includes(Number(v)) && String(Number(v)) === v)

const json = fc.jsonValue({ maxDepth: 2 })
const notA = (type: 'string' | 'number') => json.filter((v) => typeof v !== type)
const seed32 = fc.tuple(fc.nat(65535), fc.nat(65535)).map(([hi, lo]) => hi * 65536 + lo)
const nonInteger = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d))
const finite = { noNaN: true, noDefaultInfinity: true } as const

function intOutside(min: number, max: number): fc.Arbitrary<number> {
  return fc.oneof(
    fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: min - 1 }),
    fc.integer({ min: max + 1, max: Number.MAX_SAFE_INTEGER }),
    fc.constantFrom(min - 1, max + 1, 2 ** 53, -(2 ** 53), 1e21),
    nonInteger,
  )
}
const numberOutside = (max: number) =>
  fc.oneof(
    fc.double({ max: 0, ...finite }).filter((d) => d < 0),
    fc.double({ min: max, minExcluded: true, ...finite }),
    fc.constantFrom(-1e-300, max + 1e-9, 1e308),
  )

interface FieldSpec {
  valid: fc.Arbitrary<Json>
  invalid: fc.Arbitrary<Json>
}

const FIELDS: Record<Field, FieldSpec> = {
  prompt: {
    valid: hostileText(1, 2000),
    invalid: fc.oneof(
      notA('string'),
      fc.constant(''),
      hostileText(2001, 2100),
      fc.constant('x'.repeat(60_000)),
    ),
  },
  negative_prompt: {
    valid: hostileText(0, 2000),
    invalid: fc.oneof(notA('string'), hostileText(2001, 2100)),
  },
  model: {
    valid: fc.constantFrom(...MODEL_IDS),
    invalid: fc.oneof(
      notA('string'),
      fc.string().filter((s) => !(MODEL_IDS as readonly string[]).includes(s)),
      fc.constantFrom('WUERSTCHEN-V2', 'wuerstchen-v2 ', 'dall-e-3', '__proto__', 'stable-cascade\u0000'),
    ),
  },
  n: { valid: fc.integer({ min: 1, max: 4 }), invalid: fc.oneof(notA('number'), intOutside(1, 4)) },
  size: {
    valid: fc.tuple(fc.constantFrom(...SIZES), fc.constantFrom(...SIZES)).map(([w, h]) => `${w}x${h}`),
    invalid: fc
      .oneof(
        notA('string'),
        fc.string(),
        fc
          .tuple(fc.integer({ min: -99, max: 99_999 }), fc.integer({ min: -99, max: 99_999 }))
          .map(([w, h]) => `${w}x${h}`),
        fc.constantFrom(
          '1024X1024',
          ' 1024x1024',
          '1024x1024\n',
          '1024*1024',
          '1e3x1024',
          '0x400x1024',
          '1024x',
        ),
      )
      .filter((v) => !validSize(v)),
  },
  seed: {
    valid: fc.oneof(seed32, fc.constantFrom(0, 4294967295)),
    invalid: fc.oneof(notA('number'), intOutside(0, 4294967295)),
  },
  prior_steps: {
    valid: fc.integer({ min: 1, max: 60 }),
    invalid: fc.oneof(notA('number'), intOutside(1, 60)),
  },
  prior_guidance: {
    valid: fc.double({ min: 0, max: 20, ...finite }),
    invalid: fc.oneof(notA('number'), numberOutside(20)),
  },
  decoder_steps: {
    valid: fc.integer({ min: 1, max: 30 }),
    invalid: fc.oneof(notA('number'), intOutside(1, 30)),
  },
  decoder_guidance: {
    valid: fc.double({ min: 0, max: 10, ...finite }),
    invalid: fc.oneof(notA('number'), numberOutside(10)),
  },
  output_format: {
    valid: fc.constantFrom('png', 'webp', 'jpeg'),
    invalid: fc.oneof(
      notA('string'),
      fc.constantFrom('PNG', 'gif', 'jpg', 'png ', ''),
      fc.string({ minLength: 5 }),
    ),
  },
  response_format: {
    valid: fc.constantFrom('url', 'b64_json'),
    invalid: fc.oneof(notA('string'), fc.constantFrom('URL', 'b64', 'file', ''), fc.string({ minLength: 9 })),
  },
}

const unknownKey = fc
  .oneof(
    fc.string({ maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 10 }),
    fc.constantFrom(
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'Prompt',
      'PROMPT',
      'prompt ',
      'sizee',
      'quality',
      'style',
      'user',
      'stpes',
    ),
  )
  .filter((k) => !(KNOWN as readonly string[]).includes(k))

/** A JSON object's text from entries, so keys like `__proto__` and duplicates go out exactly as written. */
const objectText = (entries: [string, Json][]) =>
  `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`

interface ConstructedBody {
  text: string
  /** The fields made invalid (or missing, for `prompt`); empty: the body is valid per api.md. */
  bad: string[]
}

const validRecord = fc.record(
  Object.fromEntries(KNOWN.map((f) => [f, FIELDS[f].valid])) as Record<Field, fc.Arbitrary<Json>>,
  { requiredKeys: ['prompt'] },
)

type Mutation = [key: string, value: Json | undefined]
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  ...KNOWN.map((f) => FIELDS[f].invalid.map((v): Mutation => [f, v])),
  fc.tuple(unknownKey, json).map(([k, v]): Mutation => [k, v]),
  fc.constant<Mutation>(['prompt', undefined]),
)

/** A generation body, valid per api.md but for the mutated fields; about a fifth have no mutation. */
export const constructedBody: fc.Arbitrary<ConstructedBody> = fc
  .tuple(
    validRecord,
    fc.oneof(
      { weight: 1, arbitrary: fc.constant([]) },
      { weight: 4, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) },
    ),
  )
  .map(([base, muts]) => {
    const entries = new Map<string, Json>(
      Object.entries(base).filter((e): e is [string, Json] => e[1] !== undefined),
    )
    for (const [k, v] of muts) {
      if (v === undefined) entries.delete(k)
      else entries.set(k, v)
    }
    return { text: objectText([...entries]), bad: [...new Set(muts.map(([k]) => k))] }
  })

/** Bodies whose validity the test works out itself (as text, or bytes for invalid UTF-8). */
export const garbageBody: fc.Arbitrary<string | Uint8Array<ArrayBuffer>> = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.dictionary(fc.string({ maxLength: 12 }), json, { maxKeys: 6 }).map((d) => objectText(Object.entries(d))),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((b) => new Uint8Array(b)),
  fc.tuple(constructedBody, fc.nat()).map(([b, i]) => b.text.slice(0, i % (b.text.length + 1))), // truncated
  fc.constantFrom(
    '',
    ' ',
    '\n',
    'null',
    'true',
    '0',
    '"prompt"',
    '[]',
    '{}',
    '{"prompt":"x"',
    '{"prompt":"x",}',
    "{'prompt':'x'}",
    '{"prompt":"x"}garbage',
    '\ufeff{"prompt":"bom"}',
    '{"prompt":"\\ud800"}',
    '{"prompt":"\\u0000"}',
    '{"prompt":1e999}',
    '{"n":1e999,"prompt":"x"}',
    '{"prompt":"x","prompt":5}',
    '{"prompt":5,"prompt":"dup"}',
    '{"prompt":"x","__proto__":{"n":0}}',
    '[{"prompt":"x"}]',
    'prompt=x',
    '<xml/>',
  ),
  fc
    .tuple(fc.integer({ min: 1, max: 30_000 }), fc.constantFrom('array', 'object', 'prompt'))
    .map(([depth, kind]) =>
      kind === 'array'
        ? '['.repeat(depth) + ']'.repeat(depth)
        : kind === 'object'
          ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
          : `{"prompt":${'['.repeat(depth)}${']'.repeat(depth)}}`,
    ),
)
