// The Worker's queue() handler, consumer of the jobs queue and of its dead-letter queue.
//
// Jobs queue: the pool's capacity is read once per batch (pool.ts) and each message, a job, is dispatched through
// its JobRecord (which generates through the per-key coordinators) on the backends with free slots, most first.
// Messages that find no free slot wait for one of this batch's own jobs to end and free its slot (the invocation
// lasts that long anyway, and a held message spends no attempt); those still without a slot once this batch has
// nothing running, or after HOLD_MS, are retried later.
// A message stays unacknowledged until its job is settled, so a consumer that dies mid-job leaves it to be
// delivered again, and a second delivery is harmless: the record joins the dispatch in flight, the coordinator
// finds a stored image, and the quota was charged once, when the job was accepted. A dispatch that found no backend
// able to run the job (busy, down, died mid-job, timed out) is retried with backoff (retry-delay.ts); after the
// consumer's max_retries the queue moves the message to the dead-letter queue.
//
// Dead-letter queue: each job in it is failed with the last failure's stable code (JobRecord.giveUp).
import { type Pool, probePool } from '../backend/pool.ts'
import { backendUrls, type RetryPolicy, retryPolicy } from '../config.ts'
import { jobRecord } from '../durable-objects/job-record.ts'
import type { Bindings } from '../env.ts'
import { JobMessage } from './message.ts'
import { retryDelayS } from './retry-delay.ts'

/** The longest a message waits in a batch for a slot: well inside a consumer invocation's 15 minutes of wall time. */
const HOLD_MS = 5 * 60_000

interface Pending {
  m: Message<unknown>
  msg: JobMessage
  /** The pool's own estimate of when a slot frees, from the last claim that found none. */
  busyForS: number
}

export async function consumeJobs(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  if (batch.queue === env.JOBS_DLQ) {
    await Promise.all(batch.messages.map((m) => giveUp(m, env)))
    return
  }
  const pending: Pending[] = []
  for (const m of batch.messages) {
    const parsed = JobMessage.safeParse(m.body)
    if (parsed.success) pending.push({ m, msg: parsed.data, busyForS: 0 })
    else {
      console.error(`jobs queue: dropping message ${m.id}, not a job message`)
      m.ack()
    }
  }
  if (!pending.length) return
  const pool = await probePool(backendUrls(env))
  // Messages still waiting behind this batch: where a job that has to wait again stands.
  const backlog = batch.metadata?.metrics?.backlogCount
  await dispatchAll(pending, env, pool, backlog)
}

/** Dispatches each message once the pool has a slot for it; settles when every message is acked or retried. */
function dispatchAll(pending: Pending[], env: Bindings, pool: Pool, backlog?: number): Promise<void> {
  const policy = retryPolicy(env)
  const holdUntil = Date.now() + HOLD_MS
  let running = 0
  return new Promise((settled) => {
    const retry = (p: Pending) => p.m.retry({ delaySeconds: retryDelayS(p.m.attempts, policy, p.busyForS) })
    const pump = () => {
      if (Date.now() > holdUntil) for (const p of pending.splice(0)) retry(p)
      for (const p of [...pending]) {
        const claim = pool.claim(p.msg)
        if ('busyForS' in claim) {
          p.busyForS = claim.busyForS
          continue
        }
        pending.splice(pending.indexOf(p), 1)
        running++
        void dispatch(p, env, policy, claim.urls, backlog).finally(() => {
          claim.release()
          running--
          pump()
        })
      }
      if (running) return
      for (const p of pending.splice(0)) retry(p)
      settled()
    }
    pump()
  })
}

async function dispatch(
  p: Pending,
  env: Bindings,
  policy: RetryPolicy,
  urls: string[],
  backlog?: number,
): Promise<void> {
  try {
    const r = await jobRecord(env, p.msg.job).dispatch({
      urls,
      ...(backlog !== undefined ? { backlog } : {}),
    })
    if (r.retry) p.m.retry({ delaySeconds: retryDelayS(p.m.attempts, policy, r.retryAfterS) })
    else p.m.ack()
  } catch (err) {
    // The record could not be reached (or reset mid-dispatch): the job is not settled, so it is delivered again.
    console.error(`jobs queue: dispatch of ${p.msg.job} failed:`, err)
    p.m.retry({ delaySeconds: retryDelayS(p.m.attempts, policy) })
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
