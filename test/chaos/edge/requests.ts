// fast-check arbitraries for hostile requests around the bodies: header mutations, paths and methods.
import fc from 'fast-check'

// --- headers ------------------------------------------------------------------------------------------------------

/** Printable ASCII (what every HTTP stack passes through unchanged), not blank. */
const headerValue = (maxLength: number) =>
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength }).filter((s) => s.trim() !== '')

export const authorizationGarbage: fc.Arbitrary<string> = fc.oneof(
  headerValue(100),
  fc.stringMatching(/^[\x21-\x7e]{8,256}$/).map((t) => `Bearer ${t}`), // well-formed, unknown
  fc.stringMatching(/^[\x21-\x7e]{257,600}$/).map((t) => `Bearer ${t}`),
  fc.constantFrom(
    'Bearer',
    'Bearer short',
    'bearer abcdefghij',
    'BEARER abcdefghij',
    'Basic dXNlcjpwYXNz',
    'Token abcdefghijkl',
    'Bearer abc def ghi jkl',
    'Bearer\tabcdefghijk',
    'Bearer  abcdefghijk',
    `Bearer ${'a'.repeat(100_000)}`,
    'Bearer null',
    'Bearer undefined',
    'Bearer ../../../../etc/passwd',
  ),
)

const RESERVED = new Set([
  'authorization',
  'content-type',
  'content-length',
  'host',
  'transfer-encoding',
  'connection',
  'cf-connecting-ip',
  'x-request-id',
  'if-none-match',
  'expect',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'content-encoding',
])
const headerName = fc
  .stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}$/)
  .filter((n) => !RESERVED.has(n.toLowerCase()))

/** A header that must not change the answer: garbage, huge, many, or a spoofed client address. */
type Header = [name: string, value: string]
export const neutralHeaders: fc.Arbitrary<Header[]> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('Accept', 'Accept-Language', 'User-Agent', 'Referer', 'Origin', 'Cookie'),
      headerValue(300),
    )
    .map((h): Header[] => [h]),
  fc
    .tuple(headerName, fc.integer({ min: 1000, max: 100_000 }))
    .map(([n, len]): Header[] => [[n, 'h'.repeat(len)]]),
  fc.array(fc.tuple(headerName, headerValue(200)), { minLength: 1, maxLength: 200 }),
  fc
    .tuple(
      fc.constantFrom(
        'X-Forwarded-For',
        'X-Real-IP',
        'True-Client-IP',
        'Forwarded',
        'CF-Connecting-IPv6',
        'X-Client-IP',
      ),
      fc.ipV4(),
    )
    .map(([n, ip]): Header[] => [[n, n === 'Forwarded' ? `for=${ip}` : ip]]),
)

export const contentTypeGarbage: fc.Arbitrary<string> = fc.oneof(
  headerValue(100),
  fc.constantFrom(
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'application/jsonx',
    'json',
    'application/',
    '*/*',
    'application/json, text/plain',
    'application/json; charset=utf-16',
    'application/vnd.api+json',
    'APPLICATION/JSON',
    'application/json;;;',
    `application/json; x=${'y'.repeat(5000)}`,
  ),
)

export const requestIdGarbage: fc.Arbitrary<string> = fc.oneof(
  headerValue(300),
  fc.stringMatching(/^[\w.:-]{1,128}$/),
  fc.constantFrom('a'.repeat(129), '../../etc', 'id with spaces', '<script>', '$' + '{jndi:ldap://x}'),
)

// --- paths and methods --------------------------------------------------------------------------------------------

const TRAVERSAL = [
  '..%2f..%2fx.png',
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e%2f%2e%2e%2fx.png',
  '%2e%2e/%2e%2e/x.png',
  '..%5c..%5cx.png',
  '%252e%252e%252fx.png',
  '..%252f..%252fx.png',
  '....//....//x.png',
  '..;/x.png',
  '%c0%ae%c0%ae%c0%afx.png',
  '%uff0e%uff0e%u2215x.png',
  '\uff0e\uff0e\u2215x.png',
  '..\\..\\x.png',
  'x.png%00.txt',
  '%00',
  '%',
  '%zz',
  '%e0%a4%a',
  `${'0'.repeat(64)}.png%2f..%2f..%2fsecret`,
  `${'0'.repeat(64)}.png/..`,
  `${'a'.repeat(64)}%2epng`,
  `${'A'.repeat(64)}.png`,
  `${'a'.repeat(64)}.PNG`,
  `${'a'.repeat(64)}.gif`,
  `${'a'.repeat(63)}.png`,
  `${'a'.repeat(65)}.png`,
  `${'a'.repeat(64)}.png.png`,
  `${'a'.repeat(64)}`,
  `.${'a'.repeat(64)}.png`,
  '.png',
  `${'g'.repeat(64)}.png`,
  `${'a'.repeat(64)}.png?x=1`,
  `${'a'.repeat(64)}.png#frag`,
  `${'a'.repeat(64)}.webp;`,
]

const hexKey = (len: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${len}}$`))
const imageFile = fc.oneof(
  fc.constantFrom(...TRAVERSAL),
  fc.tuple(fc.constantFrom(...TRAVERSAL), fc.constantFrom(...TRAVERSAL)).map(([a, b]) => `${a}/${b}`),
  fc
    .tuple(fc.integer({ min: 0, max: 130 }), fc.constantFrom('png', 'webp', 'jpeg', 'jpg', 'PNG', ''))
    .chain(([n, ext]) => hexKey(n).map((k) => (ext ? `${k}.${ext}` : k))),
  hexKey(64).map((k) => `${k}.png`), // well-formed, never stored
  fc.webSegment(),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeURIComponent),
  fc.string({ maxLength: 30 }).map((s) => s.replaceAll('#', '%23').replaceAll('?', '%3F')),
)

const jobId = fc.oneof(
  hexKey(32).map((h) => `job_${h}`), // well-formed, unknown
  fc.tuple(fc.integer({ min: 0, max: 40 })).chain(([n]) => hexKey(n).map((h) => `job_${h}`)),
  fc.stringMatching(/^job_[0-9A-F]{32}$/),
  fc.constantFrom(...TRAVERSAL),
  fc.webSegment(),
  fc.string({ unit: 'grapheme', maxLength: 40 }).map(encodeURIComponent),
)

/** [method, path]; every path starts with `/`. */
export const pathRequest: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(
    fc.constantFrom('GET', 'HEAD'),
    imageFile.map((f) => `/v1/images/${f}`),
  ),
  fc.tuple(
    fc.constantFrom('GET', 'HEAD'),
    fc
      .tuple(jobId, fc.constantFrom('', '/events', '/result', '/x', '/'))
      .map(([id, s]) => `/v1/jobs/${id}${s}`),
  ),
  fc.tuple(
    fc.constant('POST'),
    jobId.map((id) => `/v1/jobs/${id}/cancel`),
  ),
  fc.tuple(
    fc.constantFrom('GET', 'HEAD'),
    fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
  ),
  fc.tuple(
    fc.constantFrom('GET', 'POST'),
    fc.webSegment().map((s) => `/v1/${s}`),
  ),
  fc.tuple(
    fc.constant('GET'),
    fc.constantFrom(
      '//v1/models',
      '/v1//models',
      '/v1/models/',
      '/V1/MODELS',
      '/v1/models/..',
      '/v1/images',
      '/v1/images/',
      '/v1/jobs/',
      '/bench/bare',
      '/%2e%2e/v1/models',
      `/${'a/'.repeat(5000)}`,
      `/${'%2e%2e%2f'.repeat(2000)}`,
    ),
  ),
)

// Every method workerd's fetch accepts (it refuses any other token, e.g. FOO or CONNECT, before a request exists),
// in several spellings.
const METHODS = [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'HEAD',
  'get',
  'post',
  'Post',
  'patch',
  'propfind',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
  'PURGE',
  'SEARCH',
  'REPORT',
  'QUERY',
  'ACL',
  'MERGE',
  'NOTIFY',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'CHECKOUT',
  'MKACTIVITY',
  'MSEARCH',
  'BAN',
  'TRACE',
]
export const method: fc.Arbitrary<string> = fc.constantFrom(...METHODS)

export const routeShapedPath: fc.Arbitrary<string> = fc.constantFrom(
  '/',
  '/healthz',
  '/docs',
  '/openapi.json',
  '/v1/models',
  '/v1/images/generations',
  '/v1/jobs',
  `/v1/images/${'0'.repeat(64)}.png`,
  `/v1/jobs/job_${'0'.repeat(32)}`,
  `/v1/jobs/job_${'0'.repeat(32)}/events`,
  `/v1/jobs/job_${'0'.repeat(32)}/cancel`,
  `/v1/jobs/job_${'0'.repeat(32)}/result`,
  '/v1',
  '/nope',
)
