// The queue consumer's choice of backends from a pool view (no network: the views are built here).
import { describe, expect, it } from 'vitest'
import { type BackendView, type Claim, type JobNeeds, Pool } from './pool.ts'

const ready = (url: string, free: number, retryAfter = 3, version = 'v1'): BackendView => ({
  url,
  state: 'ready',
  models: new Map([
    [
      'wuerstchen-v2',
      { version, capacity: { free_slots: free, queue_depth: 0, running: 1, retry_after_s: retryAfter } },
    ],
  ]),
})
const other = (url: string, state: 'loading' | 'unknown'): BackendView => ({ url, state, models: new Map() })

/** A key whose first 32 bits pick backend `i` of `n` first (as direct dispatch would). */
const keyFor = (i: number, n: number) => (n * 1000 + i).toString(16).padStart(8, '0').padEnd(64, '0')
const job = (over: Partial<JobNeeds> = {}): JobNeeds => ({
  model: 'wuerstchen-v2',
  model_version: 'v1',
  images: 1,
  key: keyFor(0, 4),
  ...over,
})

const urls = (c: Claim) => ('urls' in c ? c.urls : [])

describe('Pool.claim', () => {
  it('puts the backend with the most free slots first, then unknown ones, then full ones; skips loading ones', () => {
    const pool = new Pool([
      ready('a', 1),
      other('b', 'loading'),
      ready('c', 5),
      other('d', 'unknown'),
      ready('e', 0),
    ])
    expect(urls(pool.claim(job()))).toEqual(['c', 'a', 'd', 'e'])
  })

  it('takes the slots it claims until released, so one batch spreads over the pool', () => {
    const pool = new Pool([ready('a', 2), ready('b', 2)])
    const claims = Array.from({ length: 4 }, () => pool.claim(job()))
    expect(claims.map((c) => urls(c)[0]).sort()).toEqual(['a', 'a', 'b', 'b'])
    expect(pool.claim(job())).toEqual({ busyForS: 3 })
    const first = claims[0] as Claim & { release: () => void }
    first.release()
    first.release() // once only
    expect(urls(pool.claim(job()))[0]).toBe(urls(first)[0])
    expect(pool.claim(job())).toEqual({ busyForS: 3 })
  })

  it('a job of n images takes n slots', () => {
    const pool = new Pool([ready('a', 4), ready('b', 3)])
    expect(urls(pool.claim(job({ images: 4 })))).toEqual(['a', 'b'])
    expect(urls(pool.claim(job()))).toEqual(['b', 'a'])
  })

  it('breaks ties by the key, like direct dispatch', () => {
    const names = ['a', 'b', 'c']
    for (let i = 0; i < names.length; i++) {
      const pool = new Pool(names.map((u) => ready(u, 2)))
      expect(urls(pool.claim(job({ key: keyFor(i, names.length) })))[0]).toBe(names[i])
    }
  })

  it('busy when every backend is full or loading: the soonest Retry-After of the full ones', () => {
    expect(new Pool([ready('a', 0, 9), ready('b', 0, 4), other('c', 'loading')]).claim(job())).toEqual({
      busyForS: 4,
    })
  })

  it('an unknown backend (no answer, or no capacity in /readyz) is still tried: a stale view must not strand jobs', () => {
    expect(urls(new Pool([ready('a', 0), other('b', 'unknown')]).claim(job()))).toEqual(['b', 'a'])
  })

  it('a backend without the model or weights version of the job does not count', () => {
    const pool = new Pool([ready('a', 5, 3, 'v0'), ready('b', 1)])
    expect(urls(pool.claim(job()))).toEqual(['b'])
    expect(pool.claim(job())).toEqual({ busyForS: 3 })
    expect(new Pool([ready('a', 5, 3, 'v0')]).claim(job())).toEqual({ busyForS: 0 })
  })

  it('totals what the ready backends report', () => {
    const pool = new Pool([ready('a', 2), ready('b', 0), other('c', 'unknown')])
    expect(pool.totals()).toEqual({ backends: 3, ready: 2, free_slots: 2, queue_depth: 0, running: 2 })
  })
})
