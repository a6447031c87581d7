import { createApp } from './app.ts'
import type { Bindings } from './env.ts'
import { consumeJobs } from './queue/consumer.ts'

export { GenerationCoordinator } from './durable-objects/generation-coordinator.ts'
export { JobRecord } from './durable-objects/job-record.ts'
export { QuotaCounter } from './durable-objects/quota-counter.ts'

const app = createApp()

export default {
  fetch: app.fetch,
  queue: consumeJobs,
} satisfies ExportedHandler<Bindings>
