// Starts the whole stack for the end-to-end suite: a tiny wuerstchen-v2 model (make-tiny, seed 3), the real
// backend service on E2E_BACKEND and `wrangler dev` on E2E_EDGE, both on loopback, torn down after the run.
import { makeTinyModel, startBackend, startEdge, stopAll, waitFor } from '../support/processes.ts'

export const E2E_EDGE = 'http://127.0.0.1:18877'
export const E2E_BACKEND = 'http://127.0.0.1:18878'
export const E2E_SECRET = 'e2e-backend-secret'

export default async function setup(): Promise<() => Promise<void>> {
  const model = makeTinyModel(3)
  const backend = startBackend({
    port: Number(new URL(E2E_BACKEND).port),
    secret: E2E_SECRET,
    modelDirs: [model.dir],
    env: { QUEUE_DEPTH: '8' },
    echo: true,
  })
  const edge = startEdge({
    port: Number(new URL(E2E_EDGE).port),
    vars: {
      BACKEND_URLS: E2E_BACKEND,
      BACKEND_SECRET: E2E_SECRET,
      MODEL_VERSIONS: JSON.stringify({ 'wuerstchen-v2': model.version }),
    },
    echo: true,
  })
  try {
    await waitFor(`${E2E_BACKEND}/readyz`, backend)
    await waitFor(`${E2E_EDGE}/healthz`, edge)
  } catch (e) {
    await stopAll()
    throw e
  }
  return stopAll
}
