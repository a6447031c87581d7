// TEST DOUBLE of a GPU backend for pool-level runs (the queue's chaos tests and bench/edge-queue.ts): a fixed
// service time and a fixed capacity, nothing else. It speaks the backend contract the edge relies on: HMAC-verified
// `POST /v1/generate` (key checked) in both modes, a real PNG of the job's size (bytes fixed by size and seed),
// `GET /readyz` with the model's capacity, `GET /healthz`. Up to `capacity` jobs run at once, each for `serviceMs`,
// up to `depth` more wait (FIFO); past that it answers 503 + Retry-After, as the real backend's full queue does. A
// client that hangs up frees its slot (the edge's cancel).
//
// Accounting for the tests: GET /_stats -> {completed: {key: count}, refused, cut, peakRunning, peakWaiting,
// busyMs (slot-milliseconds spent serving, so far: the work done, however the window cuts the jobs)}; with
// `log`, each completed result is also appended to that file as `<key>\n` once the last byte has been handed to the
// kernel, so a SIGKILLed process leaves its count behind.
//
// As a process: `node --import tsx test/edge-backend/pool-stand-in.ts --port P --capacity C --depth D
//   --service-ms T --secret S [--version V] [--log FILE]`; it prints "ready" once it listens.
import { appendFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { parseArgs } from 'node:util'
import { encode } from 'fast-png'
import {
  type BackendCapacity,
  type BackendJob,
  formatSse,
  verifyJobKey,
  verifySignature,
} from '../../shared/src/index.ts'

export interface PoolStandInOptions {
  port: number
  secret: string
  /** Jobs served at once. */
  capacity: number
  /** Jobs that may wait for a slot. */
  depth: number
  serviceMs: number
  /** The weights version it serves wuerstchen-v2 with (the edge's MODEL_VERSIONS). */
  version?: string
  log?: string
}

export interface PoolStats {
  completed: Record<string, number>
  refused: number
  cut: number
  peakRunning: number
  peakWaiting: number
  busyMs: number
}

export interface PoolStandIn {
  url: string
  stats(): PoolStats
  close(): Promise<void>
}

const PROGRESS_STEPS = 4

function png(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 3).map((_, i) => (i * 37 + seed) % 256)
  return encode({ width, height, data, channels: 3, depth: 8 })
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

export async function startPoolStandIn(o: PoolStandInOptions): Promise<PoolStandIn> {
  const version = o.version ?? 'dev'
  const stats: PoolStats = { completed: {}, refused: 0, cut: 0, peakRunning: 0, peakWaiting: 0, busyMs: 0 }
  let running = 0
  // The busy-slot integral up to `since`; `running` slots have been busy after it.
  let busyMs = 0
  let since = performance.now()
  const setRunning = (n: number) => {
    const now = performance.now()
    busyMs += running * (now - since)
    since = now
    running = n
    stats.peakRunning = Math.max(stats.peakRunning, running)
  }
  const waiting: (() => void)[] = []

  const capacity = (): BackendCapacity => ({
    free_slots: Math.max(0, o.capacity + o.depth - running - waiting.length),
    queue_depth: waiting.length,
    running,
    retry_after_s: Math.max(1, Math.ceil(((waiting.length / o.capacity + 1) * o.serviceMs) / 1000)),
  })

  /** A slot, once one is free; undefined when the queue is full too. */
  function admit(): Promise<void> | undefined {
    if (running < o.capacity) {
      setRunning(running + 1)
      return Promise.resolve()
    }
    if (waiting.length >= o.depth) return undefined
    return new Promise((resolve) => {
      waiting.push(() => {
        setRunning(running + 1)
        resolve()
      })
      stats.peakWaiting = Math.max(stats.peakWaiting, waiting.length)
    })
  }
  function release(): void {
    setRunning(running - 1)
    waiting.shift()?.()
  }
  const snapshot = (): PoolStats => ({ ...stats, busyMs: busyMs + running * (performance.now() - since) })

  async function generate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await body(req)
    const sig = await verifySignature(
      o.secret,
      {
        timestamp: req.headers['x-cascade-timestamp'] as string,
        signature: req.headers['x-cascade-signature'] as string,
      },
      new Uint8Array(raw),
    )
    if (!sig.ok) return void res.writeHead(401).end()
    const job = JSON.parse(raw.toString('utf8')) as BackendJob
    if (!(await verifyJobKey(job))) return void res.writeHead(400).end('key mismatch')
    const slot = admit()
    if (!slot) {
      stats.refused++
      const { retry_after_s } = capacity()
      return void res.writeHead(503, { 'Retry-After': String(retry_after_s) }).end('queue full')
    }
    let gone = false
    res.on('close', () => {
      if (!res.writableFinished) {
        gone = true
        stats.cut++
      }
    })
    const stream = String(req.headers.accept).startsWith('text/event-stream')
    if (stream) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' })
      res.write(formatSse('queued', { position: waiting.length }))
    }
    await slot
    try {
      for (let step = 1; step <= PROGRESS_STEPS && !gone; step++) {
        await new Promise((r) => setTimeout(r, o.serviceMs / PROGRESS_STEPS))
        if (stream) res.write(formatSse('progress', { stage: 'c', step, steps: PROGRESS_STEPS }))
      }
    } finally {
      release()
    }
    if (gone) return
    const image = png(job.width, job.height, job.seed)
    const done = () => {
      stats.completed[job.key] = (stats.completed[job.key] ?? 0) + 1
      if (o.log) appendFileSync(o.log, `${job.key}\n`)
    }
    if (stream) {
      const result = {
        content_type: 'image/png',
        seed: job.seed,
        model_version: job.model_version,
        b64: Buffer.from(image).toString('base64'),
      }
      res.end(formatSse('result', result), done)
      return
    }
    res.writeHead(200, {
      'Content-Type': 'image/png',
      'X-Seed': String(job.seed),
      'X-Model-Version': version,
    })
    res.end(image, done)
  }

  function handle(req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const json = (v: unknown) =>
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(v))
    if (path === '/healthz') return void json({ status: 'ok' })
    if (path === '/readyz')
      return void json({ status: 'ready', models: [{ id: 'wuerstchen-v2', version, capacity: capacity() }] })
    if (path === '/_stats') return void json(snapshot())
    if (req.method === 'POST' && path === '/v1/generate') return generate(req, res)
    res.writeHead(404).end()
  }

  const server: Server = createServer((req, res) => {
    handle(req, res)?.catch((err) => {
      console.error('pool stand-in', err)
      if (!res.headersSent) res.writeHead(500)
      res.end()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, '127.0.0.1', resolve)
  })
  return {
    url: `http://127.0.0.1:${o.port}`,
    stats: snapshot,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      capacity: { type: 'string', default: '1' },
      depth: { type: 'string', default: '0' },
      'service-ms': { type: 'string', default: '100' },
      secret: { type: 'string' },
      version: { type: 'string', default: 'dev' },
      log: { type: 'string' },
    },
  })
  await startPoolStandIn({
    port: Number(values.port),
    secret: values.secret ?? '',
    capacity: Number(values.capacity),
    depth: Number(values.depth),
    serviceMs: Number(values['service-ms']),
    version: values.version,
    ...(values.log ? { log: values.log } : {}),
  })
  console.log('ready')
}
