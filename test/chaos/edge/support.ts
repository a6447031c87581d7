// What the chaos edge tests share: sending a request, the invariants every response must keep (no 5xx, RFC 9457
// problem+json with a stable code on every error, nothing internal in any body or header), the stand-in
// backend's counters, and storage snapshots.
import { env, SELF } from 'cloudflare:test'
import { expect } from 'vitest'
import { normalizePrompt, PROBLEM_STATUS, Problem } from '../../../shared/src/index.ts'

export const BASE = 'https://edge.test'

/** One request as the fuzzers describe it. `body` undefined: no body at all. */
export interface Sent {
  method: string
  path: string
  headers: Record<string, string>
  body?: string | Uint8Array<ArrayBuffer> | (() => ReadableStream<Uint8Array>)
}

export interface Seen {
  res: Response
  text: string
  /** The parsed problem when the response is an error with a body. */
  problem?: Problem
}

export const describeSent = (s: Sent): string => {
  const body =
    s.body === undefined
      ? ''
      : typeof s.body === 'string'
        ? ` body(${s.body.length}): ${JSON.stringify(s.body.length > 3000 ? `${s.body.slice(0, 3000)}…` : s.body)}`
        : s.body instanceof Uint8Array
          ? ` bytes(${s.body.length})`
          : ' stream'
  const headers = JSON.stringify(s.headers, (_, v) =>
    typeof v === 'string' && v.length > 200 ? `${v.slice(0, 200)}…(${v.length})` : v,
  )
  return `${s.method} ${s.path.slice(0, 300)} ${headers}${body}`
}

export async function send(s: Sent): Promise<Seen> {
  const body = typeof s.body === 'function' ? s.body() : s.body
  const res = await SELF.fetch(`${BASE}${s.path}`, { method: s.method, headers: s.headers, body })
  return { res, text: await res.text() }
}

// Things that must never reach a client: stack frames, source paths, the backends' addresses, the shared secret,
// runtime error class names.
const LEAKS: RegExp[] = [
  /\bat [\w$.<>[\]]+ \(/g,
  /\bat [^\s"]+:\d+:\d+/g,
  /[\w-]+\.(?:[cm]?[jt]s|tsx?):\d+/g,
  /file:\/\/[^\s"]*/g,
  /\/(?:work|home|tmp|usr|root)\/[^\s"]*/g,
  /node_modules/g,
  /127\.0\.0\.1(?::\d+)?|localhost(?::\d+)?|\[::1\]/g,
  /\b(?:Type|Range|Syntax|Reference|Internal|Aggregate)Error\b/g,
  /\bHTTPException\b/g,
]

const decodeLoosely = (s: string): string => {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** Text the client sent, which the server may legitimately echo (a path in a 404, an unknown field name). */
function echoable(s: Sent): string {
  const body = typeof s.body === 'string' ? s.body : ''
  return [s.path, decodeLoosely(s.path), body, ...Object.values(s.headers)].join('\n')
}

/** Every internal string found in `text` that the request did not itself contain. */
export function leaks(text: string, sent?: Sent): string[] {
  const echo = sent ? echoable(sent) : ''
  const internal = [...backendUrls(), env.BACKEND_SECRET]
  const found: string[] = internal.filter((s) => text.includes(s))
  for (const re of LEAKS) for (const m of text.matchAll(re)) if (!echo.includes(m[0])) found.push(m[0])
  return found
}

/**
 * The invariants of every response (api.md "Errors"): below 500 (unless `serverErrors`: a failing backend is
 * the test's scenario); every non-2xx but 304 is application/problem+json
 * with a stable code whose status is the HTTP status, and the request id of the X-Request-Id header; nothing
 * internal in the body or any header.
 */
export function checkResponse(
  sent: Sent,
  seen: Seen,
  opts: { serverErrors?: boolean } = {},
): Problem | undefined {
  const { res, text } = seen
  const what = describeSent(sent)
  if (!opts.serverErrors) expect(res.status, what).toBeLessThan(500)
  const headerText = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')
  expect(leaks(`${text}\n${headerText}`, sent), `${what}\n-> ${text.slice(0, 500)}`).toEqual([])
  if (res.ok || res.status === 304) return undefined
  expect(res.headers.get('Content-Type'), what).toBe('application/problem+json')
  if (sent.method === 'HEAD') return undefined
  let json: unknown
  expect(
    () => {
      json = JSON.parse(text)
    },
    `${what}\n-> ${text.slice(0, 300)}`,
  ).not.toThrow()
  const parsed = Problem.safeParse(json)
  expect(parsed.success, `${what}\n-> ${text.slice(0, 300)}`).toBe(true)
  const p = parsed.data as Problem
  expect(p.status, what).toBe(res.status)
  expect(PROBLEM_STATUS[p.code], `${what}: code ${p.code}`).toBe(res.status)
  expect(p.request_id, what).toBe(res.headers.get('X-Request-Id'))
  if (p.code === 'invalid_request') expect(p.errors?.length, what).toBeGreaterThan(0)
  seen.problem = p
  return p
}

// --- the stand-in backend (test/edge-backend/stand-in.ts) ------------------------------------------------------

export const backendUrls = (): string[] => env.BACKEND_URLS.split(',').map((s) => s.trim())
/** The stand-in's control endpoints answer on any of its ports; the first backend is one of them. */
const control = () => backendUrls()[0] as string

/** Every generation request the stand-in received (all ports, all prompts). */
export async function backendGenerations(): Promise<number> {
  const res = await fetch(`${control()}/_totals`)
  return ((await res.json()) as { generations: number }).generations
}

/** The stand-in's record of generation calls for a (raw) prompt; 0 calls when it never saw it. */
export async function backendCalls(prompt: string): Promise<number> {
  const res = await fetch(`${control()}/_calls?prompt=${encodeURIComponent(normalizePrompt(prompt))}`)
  return ((await res.json()) as { count: number } | null)?.count ?? 0
}

// --- storage ----------------------------------------------------------------------------------------------------

export interface StorageSnapshot {
  images: string[]
  apiKeys: string[]
}

export async function snapshotStorage(): Promise<StorageSnapshot> {
  const images: string[] = []
  let cursor: string | undefined
  do {
    const page = await env.IMAGES.list({ cursor, limit: 1000 })
    images.push(...page.objects.map((o) => o.key))
    cursor = page.truncated ? page.cursor : undefined
  } while (cursor)
  const apiKeys: string[] = []
  let kvCursor: string | undefined
  do {
    const page = await env.API_KEYS.list({ cursor: kvCursor })
    apiKeys.push(...page.keys.map((k) => k.name))
    kvCursor = page.list_complete ? undefined : page.cursor
  } while (kvCursor)
  return { images: images.sort(), apiKeys: apiKeys.sort() }
}

// --- identities and limits --------------------------------------------------------------------------------------

/** Uses up an identity's daily generation quota directly in its QuotaCounter, without generating anything. */
export async function exhaustDailyQuota(identity: string, limit: number): Promise<void> {
  const day = new Date().toISOString().slice(0, 10)
  const r = await env.QUOTA.get(env.QUOTA.idFromName(identity)).consume(limit, limit, day)
  expect(r.ok).toBe(true)
}

/**
 * The daily quota resets at 00:00 UTC, so a test that relies on a used-up quota must not straddle midnight: wait
 * for the new day when less than `needMs` of this one remain.
 */
export async function awaitSameUtcDay(needMs = 180_000): Promise<void> {
  const now = Date.now()
  const left = 86_400_000 - (now % 86_400_000)
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 100))
}

/** The configured TIER_LIMITS (this suite's config). */
export function tierLimits(): Record<'free' | 'pro', { burst: number; daily: number; read: number }> {
  return JSON.parse(env.TIER_LIMITS)
}
