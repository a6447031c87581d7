// Async jobs: POST /v1/jobs, GET /v1/jobs/{id}, GET /v1/jobs/{id}/events (SSE), POST /v1/jobs/{id}/cancel,
// GET /v1/jobs/{id}/result (409 `canceled` for a canceled job). An accepted job waits in the jobs queue until the
// queue consumer finds it a backend (queue/consumer.ts); only a queue that refuses the job makes POST a 503.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import {
  GenerationRequest,
  GenerationResponse,
  JOB_ID_PATTERN,
  JobCreated,
  JobStatus,
} from '../../../shared/src/index.ts'
import { type JobState, jobRecord } from '../durable-objects/job-record.ts'
import type { AppEnv } from '../env.ts'
import { ApiError, generationHook } from '../errors.ts'
import { findMisses, prepare, publicOrigin, saveInputs, startJob } from '../generation.ts'
import { chargeGeneration, chargeRead } from '../middleware/rate-limit.ts'
import { conflict, errorResponses, generationErrors, notFound } from './responses.ts'

const IdParam = z.object({ id: z.string().meta({ param: { name: 'id', in: 'path' }, example: 'job_0123…' }) })

const create = createRoute({
  method: 'post',
  path: '/v1/jobs',
  summary: 'Start an async generation job',
  request: { body: { required: true, content: { 'application/json': { schema: GenerationRequest } } } },
  responses: {
    202: { description: 'Job accepted', content: { 'application/json': { schema: JobCreated } } },
    ...generationErrors,
  },
})
const get = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}',
  summary: 'Job status',
  request: { params: IdParam },
  responses: {
    200: { description: 'The job', content: { 'application/json': { schema: JobStatus } } },
    ...notFound,
    ...errorResponses,
  },
})
const events = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/events',
  summary:
    'Job events (SSE): queued, progress, preview (Stage C, models with a previewer), succeeded | failed | canceled',
  request: { params: IdParam },
  responses: {
    200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: z.string() } } },
    ...notFound,
    ...errorResponses,
  },
})
const cancel = createRoute({
  method: 'post',
  path: '/v1/jobs/{id}/cancel',
  summary: 'Cancel a job (stops GPU work between diffusion steps)',
  request: { params: IdParam },
  responses: {
    200: {
      description: 'The job after cancellation',
      content: { 'application/json': { schema: JobStatus } },
    },
    ...notFound,
    ...errorResponses,
  },
})
const result = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/result',
  summary: "A finished job's result, same body as generate",
  request: { params: IdParam },
  responses: {
    200: { description: 'Succeeded', content: { 'application/json': { schema: GenerationResponse } } },
    202: { description: 'Still running', content: { 'application/json': { schema: JobStatus } } },
    ...conflict,
    ...notFound,
    ...errorResponses,
  },
})

function jobStub(c: Context<AppEnv>, id: string) {
  if (!JOB_ID_PATTERN.test(id)) throw new ApiError('not_found', `no job ${id}`)
  return jobRecord(c.env, id)
}

function toStatus(s: JobState): JobStatus {
  return {
    id: s.id,
    status: s.status,
    created: s.created,
    model: s.model,
    ...(s.position !== undefined ? { position: s.position } : {}),
    ...(s.images ? { data: s.images.map(({ url, seed }) => ({ url, seed })) } : {}),
    ...(s.error ? { error: s.error } : {}),
  }
}

async function load(c: Context<AppEnv>, id: string): Promise<JobState> {
  const state = await jobStub(c, id).status()
  if (!state) throw new ApiError('not_found', `no job ${id}`)
  return state
}

export function registerJobRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    create,
    async (c) => {
      const p = await prepare(c, c.req.valid('json'))
      const misses = await findMisses(c, p)
      if (misses.length === 0) await chargeRead(c)
      else {
        await chargeGeneration(c, misses.length)
        await saveInputs(c, p)
      }
      const { id, state } = await startJob(c, p, p.jobs, misses.length)
      const base = `${publicOrigin(c)}/v1/jobs/${id}`
      c.header('X-Cache', misses.length === 0 ? 'HIT' : 'MISS')
      c.header('Location', base)
      return c.json({ id, status: state.status, status_url: base, events_url: `${base}/events` }, 202)
    },
    generationHook(),
  )

  app.openapi(get, async (c) => c.json(toStatus(await load(c, c.req.valid('param').id)), 200))

  app.openapi(events, async (c) => {
    const id = c.req.valid('param').id
    const res = await jobStub(c, id).fetch('https://job/events')
    if (res.status === 404) throw new ApiError('not_found', `no job ${id}`)
    return new Response(res.body, {
      headers: {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-store',
        'X-Accel-Buffering': 'no',
      },
    }) as never
  })

  app.openapi(cancel, async (c) => {
    const id = c.req.valid('param').id
    const state = await jobStub(c, id).cancel()
    if (!state) throw new ApiError('not_found', `no job ${id}`)
    return c.json(toStatus(state), 200)
  })

  app.openapi(result, async (c) => {
    const s = await load(c, c.req.valid('param').id)
    if (s.status === 'canceled') throw new ApiError('canceled', `job ${s.id} was canceled`)
    if (s.status === 'failed' && s.error)
      throw new ApiError(s.error.code, s.error.detail, { status: s.error.status })
    if (s.status !== 'succeeded') return c.json(toStatus(s), 202)
    const data = (s.images ?? []).map(({ url, seed }) => ({ url, seed }))
    return c.json({ created: s.created, model: s.model, data }, 200)
  })
}
