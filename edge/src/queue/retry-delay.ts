// How long a message waits before its next delivery: exponential in the attempts (so the queue's retry limit
// covers minutes of saturation, not seconds), at least what the pool said it needs to free a slot, at most the
// configured cap. Whole seconds, as message.retry() takes them.
import type { RetryPolicy } from '../config.ts'

export function retryDelayS(attempts: number, policy: RetryPolicy, hintS = 0): number {
  const backoff = policy.baseS * 2 ** Math.max(0, attempts - 1)
  return Math.ceil(Math.min(policy.maxS, Math.max(backoff, hintS)))
}
