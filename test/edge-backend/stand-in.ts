// TEST DOUBLE of the GPU backend (gpu-backend/ is the real one): a tiny Node HTTP server that speaks the same
// `POST /v1/generate` contract (HMAC-verified with shared/src/hmac.ts exactly as the real backend does, key
// checked with verifyJobKey) and answers a real PNG of the job's size. Its behaviour is steered by markers in the (normalized)
// prompt, so every edge test states its scenario in its own request:
//   [503]          every backend answers 503 + Retry-After       [503@<port>]  only that port does
//   [busy:<n>]     the prompt's first n calls (any port) answer 503 + Retry-After, later ones generate
//   [sleep:<ms>]   answers after ms milliseconds                 [dieonce]     the prompt's first call is cut
//                                                                              mid-stream (a backend dying mid-job)
//   [garbage]      200 text/plain                                [truncated]   a PNG without its IEND chunk
//   [wrongsize]    a complete 8×8 PNG whatever the job's size
//   [slow]         answers after 5 s (past the test timeout)     [slowstream]  SSE progress every 100 ms, 100 steps
//   [fail]         SSE `error` event with status 500 (and a 500 in image mode)
//   [reject]       422 whose body is internal-looking text (paths, a stack frame)
//   [leaky]        like [fail], but the error's detail (and the 500's body) is that internal-looking text
//   [refuse-input] 400 refusing the job's image as undecodable (as the real backend's decoder does)
//   [preview]      SSE: a `preview` event after each Stage C step
// A job with input images arrives as a signed multipart body (shared backend-body.ts); its parts must match the
// hashes the job names (else 400).
// Control: GET /_calls?prompt=<normalized prompt> -> {count, badSignatures, aborted, lastAccept, lastSignatureOk,
//          lastTiling (the last job's `tiling`, null when untiled), lastInputs, lastImageFields}
//          GET /_totals -> {generations}: every POST /v1/generate this process received, on any of its ports
// Ports: STAND_IN_PORTS, or the config's `test.provide.standInPorts` (so two suites never share a stand-in).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { encode } from 'fast-png'
import type { TestProject } from 'vitest/node'
import {
  decodeBackendBody,
  formatSse,
  type Job,
  jobInputHashes,
  verifyJobKey,
  verifySignature,
} from '../../shared/src/index.ts'
import { inputImagesBase64 } from '../support/input-images.ts'

export const STAND_IN_SECRET = 'test-secret-for-the-stand-in-backend'
export const STAND_IN_PORTS = [18788, 18789] as const
export const DEAD_PORT = 18790

interface Record_ {
  count: number
  badSignatures: number
  aborted: number
  lastAccept: string
  lastSignatureOk: boolean
  lastTiling: string | null
  /** The last call's input parts (sha256) and the job's image fields. */
  lastInputs: string[]
  lastImageFields: Partial<Pick<Job, 'image' | 'mask' | 'strength' | 'placement' | 'composite' | 'control'>>
}
const calls = new Map<string, Record_>()
let generations = 0
const rec = (prompt: string) => {
  let r = calls.get(prompt)
  if (!r) {
    r = {
      count: 0,
      badSignatures: 0,
      aborted: 0,
      lastAccept: '',
      lastSignatureOk: false,
      lastTiling: null,
      lastInputs: [],
      lastImageFields: {},
    }
    calls.set(prompt, r)
  }
  return r
}

/** A real PNG of the job's size (a fixed pattern), made once per size. */
const pngs = new Map<string, Uint8Array>()
function png(width: number, height: number): Uint8Array {
  const key = `${width}x${height}`
  let image = pngs.get(key)
  if (!image) {
    const data = new Uint8Array(width * height * 3).map((_, i) => (i * 37) % 256)
    image = encode({ width, height, data, channels: 3, depth: 8 })
    pngs.set(key, image)
  }
  return image
}

/** What a careless backend might say: a file path and a stack frame. The edge must never pass it on. */
const LEAKY_TEXT =
  'model not loaded: /work/models/stage_c.onnx\n    at run (/work/main/gpu-backend/src/service/scheduler.ts:243:7)'

/** A preview picture (any small image will do for the edge, which relays it). */
const PREVIEW_B64 = Buffer.from(
  encode({ width: 8, height: 8, data: new Uint8Array(192), channels: 3, depth: 8 }),
).toString('base64')

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

async function handle(port: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x')
  if (url.pathname === '/_calls') {
    res.setHeader('Content-Type', 'application/json')
    res.end(JSON.stringify(calls.get(url.searchParams.get('prompt') ?? '') ?? null))
    return
  }
  if (url.pathname === '/_totals') {
    res.setHeader('Content-Type', 'application/json')
    res.end(JSON.stringify({ generations }))
    return
  }
  if (url.pathname === '/healthz') return void res.end('ok')
  if (req.method !== 'POST' || url.pathname !== '/v1/generate') return void res.writeHead(404).end()
  generations++
  const raw = await body(req)
  const decoded = await decodeBackendBody(new Uint8Array(raw), String(req.headers['content-type'] ?? ''))
  if (!decoded.ok) return void res.writeHead(400).end(decoded.detail)
  const job = decoded.job as Job & { key: string }
  const r = rec(job.prompt)
  r.lastInputs = [...decoded.inputs.keys()]
  r.lastImageFields = {
    image: job.image,
    mask: job.mask,
    strength: job.strength,
    placement: job.placement,
    composite: job.composite,
    control: job.control,
  }
  r.count++
  r.lastAccept = String(req.headers.accept)
  r.lastTiling = job.tiling ?? null
  const sig = await verifySignature(
    STAND_IN_SECRET,
    {
      timestamp: req.headers['x-cascade-timestamp'] as string,
      signature: req.headers['x-cascade-signature'] as string,
    },
    new Uint8Array(raw),
  )
  r.lastSignatureOk = sig.ok
  if (!sig.ok) {
    r.badSignatures++
    return void res.writeHead(401).end()
  }
  if (!(await verifyJobKey(job))) return void res.writeHead(400).end('key mismatch')
  const named = jobInputHashes(job)
  if (named.length !== decoded.inputs.size || named.some((h) => !decoded.inputs.has(h)))
    return void res.writeHead(400).end('input parts do not match the job')
  const p = job.prompt
  if (p.includes('[refuse-input]') && job.image) {
    res.writeHead(400, { 'Content-Type': 'application/problem+json' })
    return void res.end(
      JSON.stringify({
        type: 'urn:cascade-edge:problem:invalid_request',
        title: 'Invalid request',
        status: 400,
        detail: 'the input images cannot be used',
        code: 'invalid_request',
        request_id: 'stand-in',
        errors: [{ path: 'image', message: 'could not be decoded as a PNG (corrupt data)' }],
        refused_inputs: [job.image],
      }),
    )
  }
  const busyFor = Number(/\[busy:(\d+)\]/.exec(p)?.[1] ?? 0)
  if (p.includes('[503]') || p.includes(`[503@${port}]`) || r.count <= busyFor)
    return void res.writeHead(503, { 'Retry-After': '7' }).end('queue full')
  const sleepMs = Number(/\[sleep:(\d+)\]/.exec(p)?.[1] ?? 0)
  if (sleepMs) await sleep(sleepMs)
  if (p.includes('[reject]')) return void res.writeHead(422, { 'Content-Type': 'text/plain' }).end(LEAKY_TEXT)
  if (p.includes('[garbage]')) return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end('lol')
  if (p.includes('[slow]')) await sleep(5000)
  const whole = p.includes('[wrongsize]') ? png(8, 8) : png(job.width, job.height)
  const image = p.includes('[truncated]') ? whole.subarray(0, whole.length - 12) : whole
  if (String(req.headers.accept).startsWith('text/event-stream')) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' })
    let closed = false
    res.on('close', () => {
      if (!res.writableFinished) {
        closed = true
        r.aborted++
      }
    })
    res.write(formatSse('queued', { position: 0 }))
    if (p.includes('[dieonce]') && r.count === 1) {
      res.write(formatSse('progress', { stage: 'c', step: 1, steps: 3 }))
      return void res.socket?.destroy()
    }
    const steps = p.includes('[slowstream]') ? 100 : 3
    for (const stage of ['c', 'b'] as const) {
      for (let step = 1; step <= steps; step++) {
        if (closed) return
        res.write(formatSse('progress', { stage, step, steps }))
        if (stage === 'c' && p.includes('[preview]'))
          res.write(formatSse('preview', { stage, step, steps, content_type: 'image/png', b64: PREVIEW_B64 }))
        if (p.includes('[slowstream]')) await sleep(100)
      }
    }
    if (p.includes('[fail]') || p.includes('[leaky]')) {
      const detail = p.includes('[leaky]') ? LEAKY_TEXT : 'boom'
      return void res.end(formatSse('error', { status: 500, code: 'internal', detail }))
    }
    res.end(
      formatSse('result', {
        content_type: 'image/png',
        seed: job.seed,
        model_version: job.model_version,
        b64: Buffer.from(image).toString('base64'),
      }),
    )
    return
  }
  if (p.includes('[fail]')) return void res.writeHead(500).end('boom')
  if (p.includes('[leaky]')) return void res.writeHead(500).end(LEAKY_TEXT)
  res.writeHead(200, {
    'Content-Type': 'image/png',
    'X-Seed': String(job.seed),
    'X-Model-Version': job.model_version,
    'Server-Timing': 'queue;dur=1, text;dur=2, stage_c;dur=3, stage_b;dur=4, stage_a;dur=5, encode;dur=6',
  })
  res.end(image)
}

export async function startStandIn(ports: readonly number[] = STAND_IN_PORTS): Promise<Server[]> {
  return Promise.all(
    ports.map(
      (port) =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer((req, res) => {
            handle(port, req, res).catch((err) => {
              console.error('stand-in', err)
              if (!res.headersSent) res.writeHead(500)
              res.end()
            })
          })
          server.once('error', reject)
          server.listen(port, '127.0.0.1', () => resolve(server))
        }),
    ),
  )
}

declare module 'vitest' {
  interface ProvidedContext {
    /** The stand-in's listening ports (a config's `test.provide`); default STAND_IN_PORTS. */
    standInPorts: number[]
    /** test/support/input-images.ts, as base64 (workerd suites cannot run sharp). */
    inputImages: Awaited<ReturnType<typeof inputImagesBase64>>
  }
}

/** vitest globalSetup entry */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  project.provide('inputImages', await inputImagesBase64())
  const servers = await startStandIn(project.getProvidedContext().standInPorts ?? STAND_IN_PORTS)
  return async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  }
}
