// The queue consumer's view of the backend pool: every backend's GET /readyz, asked once per batch. A ready
// backend says, per model, how many jobs it would admit now (free slots) and how many wait; a loading one answers
// 503; one that does not answer (or answers without capacity) is unknown. A job goes first to the backend with the
// most free slots for its model and weights (ties: the key's rotation, as in direct dispatch), then to unknown
// ones, then to full ones (a stale view must not strand a job); a loading backend or one without the model is
// skipped. When no backend has a free slot and none is unknown, the pool is busy: the consumer holds the message
// until one of its own jobs frees a slot, or retries it later, instead of collecting a 503 from every backend. Each
// claim takes its slots from the view until it is released, so one batch spreads over the pool.
import { type BackendCapacity, BackendReadiness } from '../../../shared/src/index.ts'
import { keyOrder } from './client.ts'

const PROBE_TIMEOUT_MS = 2000

interface ModelSlots {
  version: string
  capacity: BackendCapacity
}

export interface BackendView {
  url: string
  state: 'ready' | 'loading' | 'unknown'
  /** By model id (ready backends only). */
  models: Map<string, ModelSlots>
}

export interface JobNeeds {
  model: string
  model_version: string
  /** Slots the job takes (one per image). */
  images: number
  key: string
}

/**
 * The backends to try, in order, and how to give the claimed slots back once the job is settled; or, when every
 * backend is full or loading, the seconds until one may free.
 */
export type Claim = { urls: string[]; release: () => void } | { busyForS: number }

export interface PoolTotals {
  backends: number
  ready: number
  free_slots: number
  queue_depth: number
  running: number
}

export async function probePool(urls: string[], timeoutMs = PROBE_TIMEOUT_MS): Promise<Pool> {
  return new Pool(await Promise.all(urls.map((url) => probe(url, timeoutMs))))
}

async function probe(url: string, timeoutMs: number): Promise<BackendView> {
  const view = (state: BackendView['state'], models = new Map<string, ModelSlots>()): BackendView => ({
    url,
    state,
    models,
  })
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) })
    if (!res.ok) {
      await res.body?.cancel()
      return view(res.status === 503 ? 'loading' : 'unknown')
    }
    const parsed = BackendReadiness.safeParse(await res.json())
    if (!parsed.success) return view('unknown')
    return view(
      'ready',
      new Map(parsed.data.models.map((m) => [m.id, { version: m.version, capacity: { ...m.capacity } }])),
    )
  } catch {
    return view('unknown')
  }
}

export class Pool {
  constructor(readonly backends: BackendView[]) {}

  claim(job: JobNeeds): Claim {
    const slots = (b: BackendView) => {
      const m = b.models.get(job.model)
      return m && m.version === job.model_version ? m.capacity : undefined
    }
    const rotated = keyOrder(this.backends, job.key)
    const free = rotated
      .filter((b) => (slots(b)?.free_slots ?? 0) > 0)
      .sort((a, b) => (slots(b)?.free_slots ?? 0) - (slots(a)?.free_slots ?? 0))
    const unknown = rotated.filter((b) => b.state === 'unknown')
    const full = rotated.filter((b) => slots(b)?.free_slots === 0)
    const first = free[0] && slots(free[0])
    if (!first && !unknown.length) {
      const waits = full.map((b) => slots(b)?.retry_after_s ?? 0)
      return { busyForS: waits.length ? Math.min(...waits) : 0 }
    }
    const taken = first ? Math.min(first.free_slots, job.images) : 0
    if (first) {
      first.free_slots -= taken
      first.queue_depth += taken
    }
    let released = false
    const release = () => {
      if (!first || released) return
      released = true
      first.free_slots += taken
      first.queue_depth -= taken
    }
    return { urls: [...free, ...unknown, ...full].map((b) => b.url), release }
  }

  totals(): PoolTotals {
    const t: PoolTotals = {
      backends: this.backends.length,
      ready: 0,
      free_slots: 0,
      queue_depth: 0,
      running: 0,
    }
    for (const b of this.backends) {
      if (b.state !== 'ready') continue
      t.ready++
      for (const { capacity } of b.models.values()) {
        t.free_slots += capacity.free_slots
        t.queue_depth += capacity.queue_depth
        t.running += capacity.running
      }
    }
    return t
  }
}
