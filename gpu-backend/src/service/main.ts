// Entry point of the GPU backend service: `tsx gpu-backend/src/service/main.ts` (configuration: config.ts).
import { readConfig } from './config.ts'
import { startService } from './server.ts'

const log = (line: string) => console.log(`[backend] ${line}`)
const service = await startService(readConfig(), { log })
// A model that does not load (a missing or corrupt file) keeps the process up but not ready: /healthz
// answers, /readyz is a 503 with the reason, generate is a 503 the edge fails over from. Exiting would only
// turn a bad file into a restart loop, with the reason scrolled away in the logs.
service.ready.catch(() => {
  console.error(`[backend] model loading failed: ${service.state.failure}`)
})
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    log(`${signal}: closing`)
    service.close().finally(() => process.exit(0))
  })
