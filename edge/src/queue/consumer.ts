// The Worker's queue() handler, consumer of the jobs queue and of its dead-letter queue.
//
// Jobs queue: the pool's capacity is read once per batch (pool.ts); each message is a job, dispatched through its
// JobRecord (which generates through the per-key coordinators) on the backends that have free slots, most first.
// A message stays unacknowledged until its job is settled, so a consumer that dies mid-job leaves it to be
// delivered again, and a second delivery is harmless: the record joins the dispatch in flight, the coordinator
// finds a stored image, and the quota was charged once, when the job was accepted. When no backend has a free slot,
// or a dispatch found none that could run the job (busy, down, died mid-job, timed out), the message is retried
// with backoff (retry-delay.ts); after the consumer's max_retries the queue moves it to the dead-letter queue.
//
// Dead-letter queue: each job in it is failed with the last failure's stable code (JobRecord.giveUp).

import { type Pool, probePool } from '../backend/pool.ts'
import { backendUrls, retryPolicy } from '../config.ts'
import { jobRecord } from '../durable-objects/job-record.ts'
import type { Bindings } from '../env.ts'
import { JobMessage } from './message.ts'
import { retryDelayS } from './retry-delay.ts'

export async function consumeJobs(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  if (batch.queue === env.JOBS_DLQ) {
    await Promise.all(batch.messages.map((m) => giveUp(m, env)))
    return
  }
  const pool = await probePool(backendUrls(env))
  // Messages still waiting behind this batch: where a job that has to wait again stands.
  const backlog = batch.metadata?.metrics?.backlogCount
  await Promise.all(batch.messages.map((m) => dispatch(m, env, pool, backlog)))
}

async function dispatch(m: Message<unknown>, env: Bindings, pool: Pool, backlog?: number): Promise<void> {
  const parsed = JobMessage.safeParse(m.body)
  if (!parsed.success) {
    console.error(`jobs queue: dropping message ${m.id}, not a job message`)
    m.ack()
    return
  }
  const msg = parsed.data
  const policy = retryPolicy(env)
  const claim = pool.claim(msg)
  if ('busyForS' in claim) {
    m.retry({ delaySeconds: retryDelayS(m.attempts, policy, claim.busyForS) })
    return
  }
  try {
    const r = await jobRecord(env, msg.job).dispatch({
      urls: claim.urls,
      ...(backlog !== undefined ? { backlog } : {}),
    })
    if (r.retry) m.retry({ delaySeconds: retryDelayS(m.attempts, policy, r.retryAfterS) })
    else m.ack()
  } catch (err) {
    // The record could not be reached (or reset mid-dispatch): the job is not settled, so it is delivered again.
    console.error(`jobs queue: dispatch of ${msg.job} failed:`, err)
    m.retry({ delaySeconds: retryDelayS(m.attempts, policy) })
  }
}

async function giveUp(m: Message<unknown>, env: Bindings): Promise<void> {
  const parsed = JobMessage.safeParse(m.body)
  if (!parsed.success) {
    m.ack()
    return
  }
  try {
    await jobRecord(env, parsed.data.job).giveUp()
    m.ack()
  } catch (err) {
    console.error(`dead-letter queue: could not fail ${parsed.data.job}:`, err)
    m.retry()
  }
}
