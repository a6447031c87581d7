// Entry point of the GPU backend service: `tsx gpu-backend/src/service/main.ts` (configuration: config.ts).
import { readConfig } from './config.ts'
import { startService } from './server.ts'

const log = (line: string) => console.log(`[backend] ${line}`)
const service = await startService(readConfig(), { log })
service.ready.catch((err: unknown) => {
  console.error('[backend] model loading failed:', err)
  process.exit(1)
})
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    log(`${signal}: closing`)
    service.close().finally(() => process.exit(0))
  })
