// Edge cache-hit benchmark: `npx tsx bench/edge-cache-hit.ts`. Never run by npm test.
// Starts the stand-in backend (test double) and `wrangler dev` (log-level warn, metrics off, BENCH_ROUTES=1, rate
// limits raised so the limiter stays in the path but never answers 429), primes one image, checks each target's
// answer once (status, X-Cache: HIT, bytes) so it cannot measure the wrong thing, then runs a bounded fetch loop
// (concurrency 10, ~5 s per target in five interleaved windows, loopback) against:
//   bare  GET /bench/bare                       (a Hono route with no middleware: the floor)
//         POST /bench/bare with the hit's body     (the floor for a request of the hit's shape: loopback clients
//                                                  share the cores, and a POST costs them more than a GET)
//   hit   POST /v1/images/generations           (cache hit: validation, key, Cache API, limits, headers)
//   image GET /v1/images/{key}.png              (Cache API)
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { STAND_IN_SECRET, startStandIn } from '../test/edge-backend/stand-in.ts'
import { report } from './lib/report.ts'

const PORT = 8799
const BASE = `http://127.0.0.1:${PORT}`
const DURATION_MS = Number(process.env.BENCH_MS ?? 5000)
const CONCURRENCY = 10
const ROUNDS = 5
const root = new URL('..', import.meta.url).pathname

const body = JSON.stringify({ prompt: 'benchmark: a lighthouse at dusk', seed: 1 })
const genInit = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }

async function waitReady(): Promise<void> {
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${BASE}/healthz`)).ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error('wrangler dev did not start')
}

interface Sample {
  lat: number[]
  errors: number
}

/** Keeps CONCURRENCY requests in flight for `ms`, adding each one's latency to `into`. */
async function window(req: () => Promise<Response>, ms: number, into: Sample): Promise<void> {
  const end = performance.now() + ms
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now()
        const res = await req()
        await res.arrayBuffer()
        if (res.status !== 200) into.errors++
        into.lat.push(performance.now() - t0)
      }
    }),
  )
}

/**
 * Throughput of each target over DURATION_MS, measured in ROUNDS interleaved windows (bare, hit, image, bare, …)
 * so that a slower stretch of a shared machine falls on every target alike.
 */
async function measure(targets: Record<string, () => Promise<Response>>): Promise<Record<string, number>> {
  const samples = Object.fromEntries(Object.keys(targets).map((k) => [k, { lat: [], errors: 0 } as Sample]))
  for (let r = 0; r < ROUNDS; r++)
    for (const [name, req] of Object.entries(targets))
      await window(req, DURATION_MS / ROUNDS, samples[name] as Sample)
  const rps: Record<string, number> = {}
  for (const [name, { lat, errors }] of Object.entries(samples)) {
    lat.sort((a, b) => a - b)
    const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0
    rps[name] = lat.length / (DURATION_MS / 1000)
    console.log(
      `${name.padEnd(9)} ${rps[name].toFixed(0).padStart(6)} req/s  p50 ${q(0.5).toFixed(2)} ms  p99 ${q(0.99).toFixed(2)} ms  non-200: ${errors}`,
    )
  }
  return rps
}

async function main() {
  const servers = await startStandIn()
  mkdirSync(`${root}bench/out`, { recursive: true })
  const config = readFileSync(`${root}wrangler.toml`, 'utf8')
    .replace('main = "edge/src/index.ts"', `main = "${root}edge/src/index.ts"`)
    .replace(/simple = \{ limit = \d+/g, 'simple = { limit = 1000000000')
  const configPath = `${root}bench/out/wrangler.bench.toml`
  writeFileSync(configPath, config)
  const wrangler = spawn(
    `${root}node_modules/.bin/wrangler`,
    [
      'dev',
      '-c',
      configPath,
      '--ip',
      '127.0.0.1',
      '--port',
      String(PORT),
      '--log-level',
      'warn',
      '--persist-to',
      `${root}bench/out/state`,
      '--var',
      'BACKEND_URLS:http://127.0.0.1:18788',
      '--var',
      `BACKEND_SECRET:${STAND_IN_SECRET}`,
      '--var',
      'BENCH_ROUTES:1',
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
    },
  )
  try {
    await waitReady()
    // prime + check once
    const prime = await fetch(`${BASE}/v1/images/generations`, genInit)
    if (prime.status !== 200) throw new Error(`prime failed: ${prime.status} ${await prime.text()}`)
    const { data } = (await prime.json()) as { data: { url: string }[] }
    const imagePath = new URL(data[0]?.url ?? '').pathname
    const hit = await fetch(`${BASE}/v1/images/generations`, genInit)
    if (hit.headers.get('X-Cache') !== 'HIT' || ((await hit.json()) as { data: unknown[] }).data.length !== 1)
      throw new Error('generation is not a cache hit')
    const img = await fetch(BASE + imagePath)
    const bytes = new Uint8Array(await img.arrayBuffer())
    if (img.status !== 200 || img.headers.get('Content-Type') !== 'image/png' || bytes[1] !== 0x50)
      throw new Error('image GET is wrong')
    if ((await (await fetch(`${BASE}/bench/bare`)).text()) !== 'ok') throw new Error('bare route is off')
    // warm up, then measure side by side
    await window(() => fetch(`${BASE}/bench/bare`), 1000, { lat: [], errors: 0 })
    const rps = await measure({
      'bare GET': () => fetch(`${BASE}/bench/bare`),
      'bare POST': () => fetch(`${BASE}/bench/bare`, genInit),
      'hit POST': () => fetch(`${BASE}/v1/images/generations`, genInit),
      'image GET': () => fetch(BASE + imagePath),
    })
    const at = (k: string) => rps[k] ?? 0
    const [bare, barePost, post, image] = [at('bare GET'), at('bare POST'), at('hit POST'), at('image GET')]
    console.log(
      `ratio hit/bare ${(post / bare).toFixed(2)}x, image/bare ${(image / bare).toFixed(2)}x (target >= 0.7x); hit/bare POST ${(post / barePost).toFixed(2)}x`,
    )
    report('edge-cache-hit', [
      {
        measure: 'edge cache-hit POST throughput / bare route',
        ratio: post / bare,
        detail: `${post.toFixed(0)} vs ${bare.toFixed(0)} req/s (wrangler dev, concurrency 10)`,
        target: '≥ 0.7',
      },
      {
        measure: 'edge image GET throughput / bare route',
        ratio: image / bare,
        detail: `${image.toFixed(0)} vs ${bare.toFixed(0)} req/s`,
        target: '≥ 0.7',
      },
      {
        measure: 'edge cache-hit POST throughput / bare route answering the same POST',
        ratio: post / barePost,
        detail: `${post.toFixed(0)} vs ${barePost.toFixed(0)} req/s: the edge's own cost, without the client's cost of a POST`,
      },
    ])
  } finally {
    wrangler.kill('SIGTERM')
    for (const s of servers) s.close()
  }
}

await main()
process.exit(0)
