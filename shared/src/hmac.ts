// Edge -> backend request signing. HMAC-SHA256 over `${timestamp}.${body}` with the shared secret:
//   X-Cascade-Timestamp: <unix seconds>
//   X-Cascade-Signature: v1=<64 lowercase hex>
// The backend verifies with `verifySignature` (constant time via WebCrypto's HMAC verify) and answers 401 on a
// missing/bad signature or a timestamp more than 300 s away from its clock.
import { fromHex, toHex } from './hex.ts'

export const TIMESTAMP_HEADER = 'X-Cascade-Timestamp'
export const SIGNATURE_HEADER = 'X-Cascade-Signature'
export const SIGNATURE_WINDOW_S = 300

const encoder = new TextEncoder()

function hmacKey(secret: string, usage: 'sign' | 'verify') {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    usage,
  ])
}

function signedBytes(timestamp: string, body: string | Uint8Array): Uint8Array {
  const prefix = encoder.encode(`${timestamp}.`)
  const b = typeof body === 'string' ? encoder.encode(body) : body
  const out = new Uint8Array(prefix.length + b.length)
  out.set(prefix)
  out.set(b, prefix.length)
  return out
}

/** Headers to send with `body`; `nowMs` is injectable for tests. */
export async function signRequest(
  secret: string,
  body: string | Uint8Array,
  nowMs = Date.now(),
): Promise<Record<string, string>> {
  const timestamp = String(Math.floor(nowMs / 1000))
  const mac = await crypto.subtle.sign('HMAC', await hmacKey(secret, 'sign'), signedBytes(timestamp, body))
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: `v1=${toHex(mac)}` }
}

export type VerifyResult =
  | { ok: true }
  | { ok: false; reason: 'missing' | 'malformed' | 'expired' | 'mismatch' }

type SignatureHeaders = { timestamp: string | null | undefined; signature: string | null | undefined }

/**
 * The checks that need no body: present, well formed, fresh. A receiver runs them before it reads a large body,
 * so an unsigned or stale request costs it nothing.
 */
export function checkSignatureHeaders(headers: SignatureHeaders, nowMs = Date.now()): VerifyResult {
  const { timestamp, signature } = headers
  if (!timestamp || !signature) return { ok: false, reason: 'missing' }
  if (!/^\d{1,12}$/.test(timestamp) || !signature.startsWith('v1=')) return { ok: false, reason: 'malformed' }
  if (fromHex(signature.slice(3))?.length !== 32) return { ok: false, reason: 'malformed' }
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > SIGNATURE_WINDOW_S) return { ok: false, reason: 'expired' }
  return { ok: true }
}

/** Verifies the two headers (as read from the request, any casing of the names) against the raw body bytes. */
export async function verifySignature(
  secret: string,
  headers: SignatureHeaders,
  body: string | Uint8Array,
  nowMs = Date.now(),
): Promise<VerifyResult> {
  const pre = checkSignatureHeaders(headers, nowMs)
  if (!pre.ok) return pre
  const timestamp = headers.timestamp as string
  const mac = fromHex((headers.signature as string).slice(3)) as Uint8Array
  const ok = await crypto.subtle.verify(
    'HMAC',
    await hmacKey(secret, 'verify'),
    mac,
    signedBytes(timestamp, body),
  )
  return ok ? { ok: true } : { ok: false, reason: 'mismatch' }
}
