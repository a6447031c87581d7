import { createApp } from './app.ts'

export { GenerationCoordinator } from './durable-objects/generation-coordinator.ts'
export { JobRecord } from './durable-objects/job-record.ts'
export { QuotaCounter } from './durable-objects/quota-counter.ts'

export default createApp()
