// Starts the whole stack for the end-to-end suite: tiny wuerstchen-v2 and stable-cascade models (make-tiny, seed 3;
// Stable Cascade with every image graph), the real backend service on E2E_BACKEND and `wrangler dev` on E2E_EDGE,
// both on loopback, torn down after the run. The edge is told the models' modes the way `npm start` tells it:
// from the backend's /readyz.
import { makeTinyModel, startBackend, startEdge, stopAll, waitFor } from '../support/processes.ts'

export const E2E_EDGE = 'http://127.0.0.1:18877'
export const E2E_BACKEND = 'http://127.0.0.1:18878'
export const E2E_SECRET = 'e2e-backend-secret'

export default async function setup(): Promise<() => Promise<void>> {
  const model = makeTinyModel(3)
  const sc = makeTinyModel(3, 'stable-cascade')
  const backend = startBackend({
    port: Number(new URL(E2E_BACKEND).port),
    secret: E2E_SECRET,
    modelDirs: [model.dir, sc.dir],
    env: { QUEUE_DEPTH: '8', PREVIEW_INTERVAL_MS: '0' },
    echo: true,
  })
  try {
    await waitFor(`${E2E_BACKEND}/readyz`, backend)
    const ready = (await (await fetch(`${E2E_BACKEND}/readyz`)).json()) as {
      models: { id: string; modes: string[]; previews: boolean }[]
    }
    const edge = startEdge({
      port: Number(new URL(E2E_EDGE).port),
      vars: {
        BACKEND_URLS: E2E_BACKEND,
        BACKEND_SECRET: E2E_SECRET,
        MODEL_VERSIONS: JSON.stringify({ 'wuerstchen-v2': model.version, 'stable-cascade': sc.version }),
        MODEL_CAPABILITIES: JSON.stringify(
          Object.fromEntries(ready.models.map((m) => [m.id, { modes: m.modes, previews: m.previews }])),
        ),
      },
      echo: true,
    })
    await waitFor(`${E2E_EDGE}/healthz`, edge)
  } catch (e) {
    await stopAll()
    throw e
  }
  return stopAll
}
