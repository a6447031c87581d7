import { describe, expect, it } from 'vitest'
import { SIGNATURE_HEADER, signRequest, TIMESTAMP_HEADER, verifySignature } from './hmac.ts'

const now = 1_800_000_000_000
const body = '{"prompt":"a cat"}'

async function signed(secret = 's3cret', at = now) {
  const h = await signRequest(secret, body, at)
  return { timestamp: h[TIMESTAMP_HEADER], signature: h[SIGNATURE_HEADER] }
}

describe('hmac', () => {
  it('signs timestamp + "." + body as v1=<hex>', async () => {
    const h = await signed()
    expect(h.timestamp).toBe('1800000000')
    expect(h.signature).toMatch(/^v1=[0-9a-f]{64}$/)
    // independent computation
    const key = await crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode('s3cret'),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    )
    const mac = new Uint8Array(
      await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`1800000000.${body}`)),
    )
    expect(h.signature).toBe(`v1=${[...mac].map((b) => b.toString(16).padStart(2, '0')).join('')}`)
  })
  it('verifies a good signature (string or bytes body)', async () => {
    expect(await verifySignature('s3cret', await signed(), body, now)).toEqual({ ok: true })
    expect(
      await verifySignature('s3cret', await signed(), new TextEncoder().encode(body), now + 299_000),
    ).toEqual({
      ok: true,
    })
  })
  it('rejects missing, malformed, expired, wrong secret and tampered body', async () => {
    const h = await signed()
    expect(await verifySignature('s3cret', { timestamp: h.timestamp, signature: null }, body, now)).toEqual({
      ok: false,
      reason: 'missing',
    })
    expect((await verifySignature('s3cret', { ...h, signature: 'v2=00' }, body, now)).ok).toBe(false)
    expect(await verifySignature('s3cret', h, body, now + 301_000)).toEqual({ ok: false, reason: 'expired' })
    expect(await verifySignature('s3cret', h, body, now - 301_000)).toEqual({ ok: false, reason: 'expired' })
    expect(await verifySignature('other', h, body, now)).toEqual({ ok: false, reason: 'mismatch' })
    expect(await verifySignature('s3cret', h, `${body} `, now)).toEqual({ ok: false, reason: 'mismatch' })
  })
})
