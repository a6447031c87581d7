// A client of the edge's jobs API for the pool-level runs (the queue's chaos tests, bench/edge-queue.ts): submit a
// job and follow its events to the end, or generate synchronously, timing each; the quota an identity has left.
import { readEvents } from './sse-stream.ts'

export interface Outcome {
  /** The job's last event (`succeeded`, `failed`, …), or the sync answer's HTTP status. */
  status: string
  urls: string[]
  /** From the request to the end. */
  ms: number
  /** performance.now() at the end. */
  endedAt: number
}

const headers = (client: string) => ({ 'Content-Type': 'application/json', 'CF-Connecting-IP': client })

/** POST /v1/jobs as `client` (its free-tier address), then the job's events to the last one. */
export async function runJob(edge: string, body: object, client: string): Promise<Outcome> {
  const t0 = performance.now()
  const res = await fetch(`${edge}/v1/jobs`, {
    method: 'POST',
    headers: headers(client),
    body: JSON.stringify(body),
  })
  if (res.status !== 202) {
    await res.body?.cancel()
    return end(t0, String(res.status), [])
  }
  const { events_url } = (await res.json()) as { events_url: string }
  const last = (await readEvents(await fetch(events_url))).at(-1)
  const data = last?.event === 'succeeded' ? (JSON.parse(last.data) as { data: { url: string }[] }).data : []
  return end(
    t0,
    last?.event ?? 'none',
    data.map((d) => d.url),
  )
}

/** POST /v1/images/generations as `client`. */
export async function runSync(edge: string, body: object, client: string): Promise<Outcome> {
  const t0 = performance.now()
  const res = await fetch(`${edge}/v1/images/generations`, {
    method: 'POST',
    headers: headers(client),
    body: JSON.stringify(body),
  })
  const json = (await res.json()) as { data?: { url: string }[] }
  return end(
    t0,
    String(res.status),
    (json.data ?? []).map((d) => d.url),
  )
}

const end = (t0: number, status: string, urls: string[]): Outcome => {
  const endedAt = performance.now()
  return { status, urls, ms: endedAt - t0, endedAt }
}

/** The daily images `client` has left after one more generation of `body` (a miss): its RateLimit header. */
export async function dailyLeftAfter(edge: string, body: object, client: string): Promise<number> {
  const res = await fetch(`${edge}/v1/images/generations`, {
    method: 'POST',
    headers: headers(client),
    body: JSON.stringify(body),
  })
  await res.body?.cancel()
  if (res.status !== 200) throw new Error(`the quota probe answered ${res.status}`)
  return Number(/"daily";r=(\d+)/.exec(res.headers.get('RateLimit') ?? '')?.[1])
}

/** The request key in an image URL. */
export const imageKey = (url: string) => /\/v1\/images\/([0-9a-f]{64})\.\w+$/.exec(url)?.[1] ?? ''

export const quantile = (xs: number[], q: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0

/**
 * What a run did to its jobs: `lost` did not succeed; `duplicated` were generated more than once (by the backends'
 * count of results per key); `images` is how many distinct images the jobs point at.
 */
export function tally(outcomes: Outcome[], generations: Map<string, number>) {
  const ok = outcomes.filter((o) => o.status === 'succeeded' || o.status === '200')
  const keys = ok.flatMap((o) => o.urls.map(imageKey))
  return {
    lost: outcomes.length - ok.length,
    duplicated: keys.filter((k) => (generations.get(k) ?? 0) > 1).length,
    ungenerated: keys.filter((k) => !generations.get(k)).length,
    images: new Set(keys).size,
  }
}
