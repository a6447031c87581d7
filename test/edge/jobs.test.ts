import { describe, expect, it } from 'vitest'
import { backendCalls, expectProblem, get, post, readSse } from './helpers.ts'

describe('jobs', () => {
  it('streams queued, progress, succeeded in order, and the status carries the data', async () => {
    const res = await post('/v1/jobs', { prompt: 'job stream test' })
    expect(res.status).toBe(202)
    const created = (await res.json()) as {
      id: string
      status: string
      status_url: string
      events_url: string
    }
    expect(created.id).toMatch(/^job_[0-9a-f]{32}$/)
    expect(created.events_url).toBe(`${created.status_url}/events`)
    const events = await readSse(await get(`/v1/jobs/${created.id}/events`))
    const names = events.map(([e]) => e)
    expect(names[0]).toBe('queued')
    expect(names.at(-1)).toBe('succeeded')
    const progress = events
      .filter(([e]) => e === 'progress')
      .map(([, d]) => d as { stage: string; step: number })
    expect(progress.map((p) => `${p.stage}${p.step}`)).toEqual(['c1', 'c2', 'c3', 'b1', 'b2', 'b3'])
    const status = (await (await get(`/v1/jobs/${created.id}`)).json()) as {
      status: string
      data: { url: string }[]
    }
    expect(status.status).toBe('succeeded')
    expect(events.at(-1)?.[1]).toEqual({ data: status.data })
    expect((await get(new URL(status.data[0]?.url ?? '').pathname)).status).toBe(200)
    expect((await backendCalls('job stream test'))?.lastAccept).toBe('text/event-stream')
    expect((await get(`/v1/jobs/${created.id}/result`)).status).toBe(200)
  })

  it('cancels a running job: canceled event, status, 409 on its result, backend call aborted', async () => {
    const res = await post('/v1/jobs', { prompt: 'cancel me [slowstream]' })
    const { id } = (await res.json()) as { id: string }
    let canceled: Promise<Response> | undefined
    const events = await readSse(await get(`/v1/jobs/${id}/events`), (e) => {
      if (e === 'progress' && !canceled) canceled = post(`/v1/jobs/${id}/cancel`, {})
    })
    expect(events.at(-1)?.[0]).toBe('canceled')
    expect(events.some(([e]) => e === 'succeeded')).toBe(false)
    expect((await (canceled as Promise<Response>)).status).toBe(200)
    expect(((await (await get(`/v1/jobs/${id}`)).json()) as { status: string }).status).toBe('canceled')
    await expectProblem(await get(`/v1/jobs/${id}/result`), 409, 'canceled')
    for (let i = 0; i < 50 && !(await backendCalls('cancel me [slowstream]'))?.aborted; i++)
      await new Promise((r) => setTimeout(r, 100))
    expect((await backendCalls('cancel me [slowstream]'))?.aborted).toBe(1)
  })

  it('marks a failed generation failed with a problem body', async () => {
    const { id } = (await (await post('/v1/jobs', { prompt: 'job fails [fail]' })).json()) as { id: string }
    const events = await readSse(await get(`/v1/jobs/${id}/events`))
    expect(events.at(-1)?.[0]).toBe('failed')
    const status = (await (await get(`/v1/jobs/${id}`)).json()) as { status: string; error: { code: string } }
    expect(status.status).toBe('failed')
    expect(status.error.code).toBe('backend_unavailable')
  })

  it('404s unknown and malformed job ids', async () => {
    await expectProblem(await get(`/v1/jobs/job_${'0'.repeat(32)}`), 404, 'not_found')
    await expectProblem(await get('/v1/jobs/nope/events'), 404, 'not_found')
    await expectProblem(await post('/v1/jobs/nope/cancel', {}), 404, 'not_found')
  })
})
