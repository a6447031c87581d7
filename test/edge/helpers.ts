// Helpers for the edge integration tests (run inside workerd).
import { env, SELF } from 'cloudflare:test'
import { expect } from 'vitest'
import {
  GenerationRequest,
  type GenerationRequestInput,
  normalizePrompt,
  type Problem,
  resolveRequest,
  toBackendJob,
} from '../../shared/src/index.ts'

export const BASE = 'https://edge.test'
let ipCounter = 0
/** A fresh client address per test, so rate limits never leak between tests. */
export const freshIp = () => `198.51.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}`

export function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return SELF.fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'CF-Connecting-IP': headers['CF-Connecting-IP'] ?? freshIp(),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

export function get(path: string, headers: Record<string, string> = {}) {
  return SELF.fetch(`${BASE}${path}`, { headers: { 'CF-Connecting-IP': freshIp(), ...headers } })
}

export const generate = (body: GenerationRequestInput, headers: Record<string, string> = {}) =>
  post('/v1/images/generations', body, headers)

/** The stand-in backend's record of calls for a (raw) prompt. */
export async function backendCalls(prompt: string) {
  const res = await fetch(
    `http://127.0.0.1:18788/_calls?prompt=${encodeURIComponent(normalizePrompt(prompt))}`,
  )
  return (await res.json()) as null | {
    count: number
    badSignatures: number
    aborted: number
    lastAccept: string
    lastSignatureOk: boolean
    lastTiling: string | null
    lastInputs: string[]
    lastImageFields: Record<string, unknown>
  }
}

/** The keys the edge computes for a request. */
export async function keysOf(body: GenerationRequestInput): Promise<string[]> {
  const r = await resolveRequest(GenerationRequest.parse(body), JSON.parse(env.MODEL_VERSIONS))
  if (!r.ok) throw new Error('unresolvable')
  return Promise.all(r.value.jobs.map(async (j) => (await toBackendJob(j)).key))
}

export async function expectProblem(res: Response, status: number, code: string): Promise<Problem> {
  expect(res.status).toBe(status)
  expect(res.headers.get('Content-Type')).toBe('application/problem+json')
  const p = (await res.json()) as Problem
  expect(p).toMatchObject({ status, code, request_id: res.headers.get('X-Request-Id') })
  expect(typeof p.type).toBe('string')
  expect(typeof p.title).toBe('string')
  expect(typeof p.detail).toBe('string')
  expect(JSON.stringify(p)).not.toMatch(/at .*\.ts:\d+/)
  return p
}

export function expectCommonHeaders(res: Response): void {
  expect(res.headers.get('X-Request-Id')).toBeTruthy()
  expect(res.headers.get('Server-Timing')).toMatch(/total;dur=\d+/)
  expect(res.headers.get('RateLimit-Policy')).toMatch(/"gen";q=\d+;w=60/)
  expect(res.headers.get('RateLimit')).toMatch(/r=\d+;t=\d+/)
}

/** Reads an SSE response to its end: [event, data][] */
export async function readSse(res: Response, onEvent?: (event: string, data: unknown) => void) {
  const out: [string, unknown][] = []
  const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader()
  let buf = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return out
    buf += value
    let i = buf.indexOf('\n\n')
    while (i >= 0) {
      const block = buf.slice(0, i)
      buf = buf.slice(i + 2)
      i = buf.indexOf('\n\n')
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message'
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null')
      out.push([event, data])
      onEvent?.(event, data)
    }
  }
}

/**
 * The local rate-limit simulation counts in windows aligned to the wall clock (floor(now / period)), so a test
 * that fills a window must not straddle a boundary: wait for the next window when less than `needMs` remain.
 */
export async function awaitFreshWindow(needMs = 10_000, periodMs = 60_000): Promise<void> {
  const left = periodMs - (Date.now() % periodMs)
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 50))
}
