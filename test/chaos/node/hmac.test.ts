// The edge -> backend authentication (api.md "Edge -> backend") against a real backend: HMAC-SHA256 over
// `timestamp.body`, 300 s window. Everything not signed by the shared secret over exactly these bytes, now, is a
// 401 problem+json that queues nothing; and the backend listens only on the address it was told to.
import { connect, createServer } from 'node:net'
import { networkInterfaces } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SIGNATURE_HEADER, signRequest, TIMESTAMP_HEADER, toHex } from '../../../shared/src/index.ts'
import { stopAll } from '../../support/processes.ts'
import {
  type Backend,
  backend,
  expectProblem,
  generated,
  SECRET,
  sample,
  scrape,
  signedPost,
  tinyJob,
} from './harness.ts'

const PORT = 18901
/** A second port, for the reachability control on the interface address. */
const CONTROL_PORT = 18902

let b: Backend
beforeAll(async () => {
  b = await backend(PORT)
})
afterAll(stopAll)

const now = () => Date.now()
const randomHex = (bytes: number) => toHex(crypto.getRandomValues(new Uint8Array(bytes)))

async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  return toHex(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(message)))
}

/** Posts `body` with exactly these auth headers (none added). */
function post(body: string, auth: Record<string, string>, path = '/v1/generate', method = 'POST') {
  return fetch(`${b.url}${path}`, {
    method,
    body,
    headers: { 'Content-Type': 'application/json', Accept: 'image/*', ...auth },
  })
}

async function expectUnauthorized(res: Response): Promise<void> {
  await expectProblem(res, { status: 401, code: 'unauthorized' })
}

describe('backend authentication', () => {
  it('accepts a request signed now with the shared secret (the control: the 401s below are about the signature)', async () => {
    const before = await generated(b.url)
    const res = await signedPost(b.url, JSON.stringify(await tinyJob({ seed: 42 })))
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Type')).toBe('image/png')
    await res.arrayBuffer()
    expect(await generated(b.url)).toBe(before + 1)
  })

  it('refuses forged signatures (401)', async () => {
    const body = JSON.stringify(await tinyJob({ seed: 1 }))
    const ts = String(Math.floor(now() / 1000))
    const good = (await signRequest(SECRET, body))[SIGNATURE_HEADER] as string
    const forged: Record<string, Record<string, string>> = {
      'no headers': {},
      'timestamp only': { [TIMESTAMP_HEADER]: ts },
      'signature only': { [SIGNATURE_HEADER]: good },
      'random MAC': { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: `v1=${randomHex(32)}` },
      'another secret': await signRequest('not-the-secret', body),
      'secret with a trailing newline': await signRequest(`${SECRET}\n`, body),
      'MAC of the body alone': {
        [TIMESTAMP_HEADER]: ts,
        [SIGNATURE_HEADER]: `v1=${await hmacHex(SECRET, body)}`,
      },
      'MAC with the parts swapped': {
        [TIMESTAMP_HEADER]: ts,
        [SIGNATURE_HEADER]: `v1=${await hmacHex(SECRET, `${body}.${ts}`)}`,
      },
      'plain SHA-256 of the message': {
        [TIMESTAMP_HEADER]: ts,
        [SIGNATURE_HEADER]: `v1=${toHex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${ts}.${body}`)))}`,
      },
      'v2 scheme': { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: good.replace('v1=', 'v2=') },
      'no scheme': { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: good.slice(3) },
      'truncated MAC': { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: good.slice(0, -2) },
      'MAC with a byte more': { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: `${good}00` },
      'MAC with one bit flipped': {
        [TIMESTAMP_HEADER]: ts,
        [SIGNATURE_HEADER]: good.replace(/.$/, (c) => (Number.parseInt(c, 16) ^ 1).toString(16)),
      },
      'non-hex MAC': { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: `v1=${'zz'.repeat(32)}` },
      'two signatures': { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: `${good}, ${good}` },
      'empty signature': { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: '' },
      'non-numeric timestamp': {
        ...(await signRequest(SECRET, body)),
        [TIMESTAMP_HEADER]: new Date().toISOString(),
      },
    }
    const before = await scrape(b.url)
    for (const [what, auth] of Object.entries(forged)) {
      const res = await post(body, auth)
      expect(res.status, what).toBe(401)
      await expectUnauthorized(res)
    }
    // Nothing was queued or generated, and each refusal was counted as such.
    const after = await scrape(b.url)
    const series = 'cascade_errors_total{code="unauthorized"}'
    expect(sample(after, series) - sample(before, series)).toBe(Object.keys(forged).length)
    expect(sample(after, 'cascade_batch_size_count{model="wuerstchen-v2"}')).toBe(
      sample(before, 'cascade_batch_size_count{model="wuerstchen-v2"}'),
    )
  })

  it('refuses a replayed request: a timestamp over 300 s old or ahead (401)', async () => {
    const body = JSON.stringify(await tinyJob({ seed: 2 }))
    const before = await generated(b.url)
    for (const offsetS of [-301, -3600, -86_400 * 365, 301, 3600, 86_400 * 365]) {
      const res = await signedPost(b.url, body, { nowMs: now() + offsetS * 1000 })
      expect(res.status, `${offsetS} s`).toBe(401)
      await expectUnauthorized(res)
    }
    for (const ts of ['0', '-1', '1e9', '99999999999999', `${Math.floor(now() / 1000)}.5`, ' 1']) {
      const auth = {
        [TIMESTAMP_HEADER]: ts,
        [SIGNATURE_HEADER]: `v1=${await hmacHex(SECRET, `${ts}.${body}`)}`,
      }
      const res = await post(body, auth)
      expect(res.status, `timestamp "${ts}"`).toBe(401)
      await expectUnauthorized(res)
    }
    expect(await generated(b.url)).toBe(before)
  })

  it('refuses a body swapped or altered after signing (401)', async () => {
    const signedBody = JSON.stringify(await tinyJob({ seed: 3 }))
    const auth = await signRequest(SECRET, signedBody)
    const other = JSON.stringify(await tinyJob({ seed: 4 }))
    const before = await generated(b.url)
    for (const [what, body] of [
      ['another valid job', other],
      ['a trailing space', `${signedBody} `],
      ['re-serialized with indentation', JSON.stringify(JSON.parse(signedBody), null, 1)],
      ['a field changed', signedBody.replace('"seed":3', '"seed":5')],
      ['truncated', signedBody.slice(0, -1)],
      ['empty', ''],
    ] as const) {
      const res = await post(body, auth)
      expect(res.status, what).toBe(401)
      await expectUnauthorized(res)
    }
    expect(await generated(b.url)).toBe(before)
  })

  it('never generates for a signed body sent to another path or method, nor for a signature bound to another path', async () => {
    // api.md signs `timestamp.body` only: the request target is not part of the MAC, so a signature cannot be "for"
    // a path. What must hold: the one signed route is the only way to a job, and a MAC over anything but
    // `timestamp.body` (here: one that also binds a path, as other schemes do) is refused.
    const body = JSON.stringify(await tinyJob({ seed: 6 }))
    const auth = await signRequest(SECRET, body)
    const before = await generated(b.url)
    for (const [method, path] of [
      ['POST', '/v1/generate/'],
      ['POST', '/v1/generate/x'],
      ['POST', '/v1/Generate'],
      ['POST', '/v1/jobs'],
      ['POST', '/v1/images/generations'],
      ['POST', '/v2/generate'],
      ['PUT', '/v1/generate'],
      ['PATCH', '/v1/generate'],
      ['DELETE', '/v1/generate'],
    ] as const) {
      const res = await post(body, auth, path, method)
      expect(res.status, `${method} ${path}`).toBe(404)
      await expectProblem(res, { status: 404, code: 'not_found' })
    }
    const ts = String(Math.floor(now() / 1000))
    for (const path of ['/v1/generate', '/v1/other']) {
      const pathBound = {
        [TIMESTAMP_HEADER]: ts,
        [SIGNATURE_HEADER]: `v1=${await hmacHex(SECRET, `POST ${path}\n${ts}.${body}`)}`,
      }
      await expectUnauthorized(await post(body, pathBound))
    }
    expect(await generated(b.url)).toBe(before)
  })

  it("listens only on the configured address (HOST=127.0.0.1): not on the machine's other interfaces", async (ctx) => {
    const ip = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address
    if (!ip) {
      ctx.skip('no non-loopback IPv4 address on this machine: nothing to check the binding against')
      return
    }
    const reachable = (host: string, port: number) =>
      new Promise<boolean>((resolve) => {
        const s = connect({ host, port })
        s.once('connect', () => {
          s.destroy()
          resolve(true)
        })
        s.once('error', () => resolve(false))
      })
    // The control: that address is reachable from here when something does listen on it.
    const control = createServer()
    await new Promise<void>((resolve) => control.listen(CONTROL_PORT, ip, resolve))
    try {
      expect(await reachable(ip, CONTROL_PORT)).toBe(true)
    } finally {
      await new Promise((r) => control.close(r))
    }
    expect(await reachable('127.0.0.1', PORT)).toBe(true)
    expect(await reachable(ip, PORT)).toBe(false)
  })
})
