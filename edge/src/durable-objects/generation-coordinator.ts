// One object per request key: owns that key's in-flight generation, so identical concurrent misses cause exactly
// one backend call and every waiter gets the same result (api.md "Coalescing"). Only a complete image is written to
// R2; a failure is returned to every waiter and nothing is stored. A job's input images are read from R2 by hash
// (storage/inputs.ts) and sent with it; inputs the backend could not decode are deleted. When the last waiter leaves (job canceled), the
// backend call is aborted, which stops the GPU work between diffusion steps.
//
// Two ways in: `generate()` (RPC, sync waiters) and `fetch()` (POST, NDJSON stream of progress events then the
// outcome, for job waiters, with the backends in the order the queue consumer chose). A job the queue delivers
// again finds its image stored (no backend call) or joins the flight still running: never a second generation.
import { DurableObject } from 'cloudflare:workers'
import {
  type BackendEvent,
  type BackendJob,
  CONTENT_TYPES,
  jobInputHashes,
} from '../../../shared/src/index.ts'
import { callBackend, type GenerationOutcome, keyOrder } from '../backend/client.ts'
import { backendTimeoutMs, backendUrls } from '../config.ts'
import type { Bindings } from '../env.ts'
import { objectName, putR2 } from '../storage/images.ts'
import { dropInputs, loadInputs } from '../storage/inputs.ts'

export type CoordinatorResult = GenerationOutcome & { cached?: boolean }

/**
 * Inputs are deleted only once a backend found them undecodable (storage/inputs.ts), so a job whose input is gone
 * (another request with the same bytes was refused meanwhile) gets the same refusal, naming its fields.
 */
function refusedBefore(job: BackendJob, missing: string[]): CoordinatorResult {
  const fields: [string, string | undefined][] = [
    ['image', job.image],
    ['mask', job.mask],
    ['control.image', job.control?.image],
  ]
  const errors = fields
    .filter(([, h]) => h !== undefined && missing.includes(h))
    .map(([path]) => ({ path, message: 'could not be decoded (refused by a backend)' }))
  return {
    ok: false,
    code: 'invalid_request',
    status: 400,
    detail: 'the input images cannot be used',
    errors,
  }
}

interface Waiter {
  resolve: (r: CoordinatorResult) => void
  onEvent?: (e: BackendEvent) => void
}

interface Flight {
  waiters: Map<string, Waiter>
  abort: AbortController
}

export type StreamLine =
  | { type: 'event'; event: BackendEvent }
  | { type: 'outcome'; outcome: CoordinatorResult }

export class GenerationCoordinator extends DurableObject<Bindings> {
  #flight: Flight | undefined

  /** Waits for the key's image, starting the generation unless one is in flight. */
  generate(job: BackendJob, waiterId: string, stream = false): Promise<CoordinatorResult> {
    return new Promise((resolve) => this.#join(job, waiterId, { resolve }, stream))
  }

  /** Leaves the flight; the last waiter to leave aborts the backend call. */
  release(waiterId: string): void {
    const flight = this.#flight
    const waiter = flight?.waiters.get(waiterId)
    if (!flight || !waiter) return
    flight.waiters.delete(waiterId)
    waiter.resolve({ ok: false, code: 'canceled', status: 409, detail: 'generation canceled' })
    if (flight.waiters.size === 0) flight.abort.abort()
  }

  /** Body `{job, waiter, urls?}`; answers NDJSON `StreamLine`s, the last one the outcome. */
  override async fetch(request: Request): Promise<Response> {
    const { job, waiter, urls } = (await request.json()) as {
      job: BackendJob
      waiter: string
      urls?: string[]
    }
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
    const writer = writable.getWriter()
    const enc = new TextEncoder()
    const write = (line: StreamLine) => writer.write(enc.encode(`${JSON.stringify(line)}\n`)).catch(() => {})
    this.#join(
      job,
      waiter,
      {
        onEvent: (event) => void write({ type: 'event', event }),
        resolve: (outcome) => {
          void write({ type: 'outcome', outcome }).then(() => writer.close().catch(() => {}))
        },
      },
      true,
      urls,
    )
    return new Response(readable, { headers: { 'Content-Type': 'application/x-ndjson' } })
  }

  #join(job: BackendJob, waiterId: string, waiter: Waiter, stream: boolean, urls?: string[]): void {
    if (this.#flight) {
      this.#flight.waiters.set(waiterId, waiter)
      return
    }
    const flight: Flight = { waiters: new Map([[waiterId, waiter]]), abort: new AbortController() }
    this.#flight = flight
    void this.#run(job, flight, stream, urls ?? keyOrder(backendUrls(this.env), job.key)).then((outcome) => {
      if (this.#flight === flight) this.#flight = undefined
      for (const w of flight.waiters.values()) w.resolve(outcome)
      flight.waiters.clear()
    })
  }

  async #run(job: BackendJob, flight: Flight, stream: boolean, urls: string[]): Promise<CoordinatorResult> {
    try {
      const existing = await this.env.IMAGES.get(objectName(job.key, job.output_format))
      if (existing) {
        const bytes = new Uint8Array(await existing.arrayBuffer())
        return {
          ok: true,
          bytes,
          contentType: CONTENT_TYPES[job.output_format],
          seed: job.seed,
          cached: true,
        }
      }
      const { inputs, missing } = await loadInputs(this.env.IMAGES, jobInputHashes(job))
      if (missing.length) return refusedBefore(job, missing)
      const outcome = await callBackend(
        {
          urls,
          secret: this.env.BACKEND_SECRET,
          timeoutMs: backendTimeoutMs(this.env),
        },
        job,
        {
          stream,
          inputs,
          signal: flight.abort.signal,
          onEvent: (e) => {
            for (const w of flight.waiters.values()) w.onEvent?.(e)
          },
        },
      )
      if (outcome.ok) await putR2(this.env.IMAGES, job.key, job.output_format, outcome.bytes, outcome.seed)
      else if (outcome.refusedInputs) await dropInputs(this.env.IMAGES, outcome.refusedInputs)
      return outcome
    } catch (err) {
      console.error('generation failed', err)
      return { ok: false, code: 'internal', status: 500, detail: 'generation failed' }
    }
  }
}
