// Misbehaving backends for fault injection: a tiny HTTP server on a pool port that takes the edge's request and
// then hangs, or answers something that looks right (200, the job's Content-Type, X-Seed and X-Model-Version, or
// a well-formed event stream) but whose image is truncated or not an image at all. Given the weights version, its
// /readyz claims to be ready with plenty of free slots, so the edge's queue consumer sends it jobs first.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import sharp from 'sharp'
import { formatSse } from '../../../shared/src/index.ts'

export type Garbage =
  /** A real PNG of the requested size, cut in half. */
  | 'truncated'
  /** A PNG without its IEND chunk (the last 12 bytes). */
  | 'no-iend'
  /** HTML, labelled image/png. */
  | 'html'
  /** An empty body, labelled image/png. */
  | 'empty'
  /** A complete PNG, but for another seed. */
  | 'wrong-seed'
  /** An event stream that ends after progress, without a result (image mode: the connection is cut). */
  | 'no-result'

export type Behaviour = 'hang' | Garbage

export interface FakeBackend {
  behaviour: Behaviour
  /** Generate requests received (each a job the edge tried here). */
  readonly requests: number
  close(): Promise<void>
}

interface JobBits {
  seed: number
  model_version: string
  width: number
  height: number
}

async function png(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 40 } } })
    .png()
    .toBuffer()
}

async function garbageFor(kind: Garbage, job: JobBits): Promise<{ bytes: Buffer; seed: number }> {
  const full = await png(job.width, job.height)
  switch (kind) {
    case 'truncated':
      return { bytes: full.subarray(0, full.length >> 1), seed: job.seed }
    case 'no-iend':
    case 'no-result':
      return { bytes: full.subarray(0, full.length - 12), seed: job.seed }
    case 'html':
      return { bytes: Buffer.from('<html><body>502 Bad Gateway</body></html>'), seed: job.seed }
    case 'empty':
      return { bytes: Buffer.alloc(0), seed: job.seed }
    case 'wrong-seed':
      return { bytes: full, seed: (job.seed + 1) % 2 ** 32 }
  }
}

async function answer(kind: Garbage, req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
  const job = JSON.parse(body) as JobBits
  const { bytes, seed } = await garbageFor(kind, job)
  if (String(req.headers.accept).startsWith('text/event-stream')) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' })
    res.write(formatSse('queued', { position: 0 }))
    res.write(formatSse('progress', { stage: 'c', step: 1, steps: 1 }))
    if (kind !== 'no-result')
      res.write(
        formatSse('result', {
          content_type: 'image/png',
          seed,
          model_version: job.model_version,
          // An empty result is not even schema-valid (b64 min 1): send one byte of nothing useful instead.
          b64: bytes.length ? bytes.toString('base64') : 'AA==',
        }),
      )
    res.end()
    return
  }
  if (kind === 'no-result') {
    res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': String(bytes.length + 1000) })
    res.write(bytes)
    res.destroy()
    return
  }
  res.writeHead(200, {
    'Content-Type': 'image/png',
    'X-Seed': String(seed),
    'X-Model-Version': job.model_version,
    'Server-Timing': 'queue;dur=1, text;dur=1, stage_c;dur=1, stage_b;dur=1, stage_a;dur=1, encode;dur=1',
  })
  res.end(bytes)
}

/** Starts a fake backend on 127.0.0.1:`port`; its behaviour can be switched while it runs. */
export async function fakeBackend(
  port: number,
  behaviour: Behaviour,
  version?: string,
): Promise<FakeBackend> {
  let requests = 0
  const server: Server = createServer((req, res) => {
    if (version && req.url === '/readyz') {
      const capacity = { free_slots: 1000, queue_depth: 0, running: 0, retry_after_s: 1 }
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ status: 'ready', models: [{ id: 'wuerstchen-v2', version, capacity }] }))
      return
    }
    if (req.method !== 'POST' || req.url !== '/v1/generate') {
      res.writeHead(404).end()
      return
    }
    requests++
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (fake.behaviour === 'hang') return // accepted, read, and never answered
      answer(fake.behaviour, req, res, Buffer.concat(chunks).toString('utf8')).catch(() => res.destroy())
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  const fake: FakeBackend = {
    behaviour,
    get requests() {
      return requests
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
  return fake
}
