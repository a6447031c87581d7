// Edge -> backend authentication (api.md): HMAC-SHA256 over `timestamp.body` with the shared secret, checked
// against the raw body bytes (shared/src/hmac.ts). A missing, malformed, stale (> 300 s) or wrong signature is
// a 401. The verified bytes are kept for the handler, so the JSON parsed is exactly what was signed.
import { createMiddleware } from 'hono/factory'
import {
  ApiError,
  checkSignatureHeaders,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifySignature,
} from '../../../../shared/src/index.ts'

export interface SignatureOptions {
  secret: string
  /** Largest body accepted for the request's Content-Type (a JSON job is well under 10 KiB; inputs add more). */
  maxBytes: (contentType: string) => number
  now?: () => number
}

export type SignatureEnv = { Variables: { body: Uint8Array } }

const REASONS = {
  missing: 'missing signature headers',
  malformed: 'malformed signature headers',
  expired: 'timestamp more than 300 s away from the server clock',
  mismatch: 'signature does not match the body',
} as const

export function signature(opts: SignatureOptions) {
  return createMiddleware<SignatureEnv>(async function verifySignedBody(c, next) {
    const maxBytes = opts.maxBytes(c.req.header('Content-Type') ?? '')
    const headers = { timestamp: c.req.header(TIMESTAMP_HEADER), signature: c.req.header(SIGNATURE_HEADER) }
    const now = opts.now?.() ?? Date.now()
    // Before the body is read: an unsigned or stale request is refused without buffering anything.
    const pre = checkSignatureHeaders(headers, now)
    if (!pre.ok) throw new ApiError('unauthorized', REASONS[pre.reason])
    if (Number(c.req.header('Content-Length') ?? 0) > maxBytes) throw tooLarge(maxBytes)
    const body = await readBody(c.req.raw, maxBytes)
    const v = await verifySignature(opts.secret, headers, body, now)
    if (!v.ok) throw new ApiError('unauthorized', REASONS[v.reason])
    c.set('body', body)
    await next()
  })
}

const tooLarge = (maxBytes: number) => new ApiError('payload_too_large', `body over ${maxBytes} bytes`)

/**
 * The body, read no further than `maxBytes`: a chunked body has no Content-Length to refuse up front, and
 * reading it whole first would let anyone, signed or not, make the process buffer all they care to send.
 */
async function readBody(req: Request, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = req.body?.getReader()
  for (;;) {
    const next = await reader?.read()
    if (!next || next.done) break
    size += next.value.length
    if (size > maxBytes) {
      reader?.cancel().catch(() => {})
      throw tooLarge(maxBytes)
    }
    chunks.push(next.value)
  }
  return Buffer.concat(chunks, size)
}
