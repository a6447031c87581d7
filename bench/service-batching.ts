// Dynamic batching, measured over real HTTP on loopback: the backend service (startService, one model's worker
// thread) answers the same number of signed jobs sent one at a time and four at a time; images/s of each, side by
// side in one run (target ≥ 1.6x). Every answer is checked to be a PNG, so a fast failure cannot win.
// Beside it, the ceiling batching has on this machine: Σ session.run of four batch-1 generations / of one batch-4
// generation, in-process with the same steps. On a CPU a batch-1 run already keeps every core busy, so batching
// saves little compute; the service's ratio is read against this ceiling.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Manifest } from '../gpu-backend/src/compiler/manifest.ts'
import { generate } from '../gpu-backend/src/pipeline/generate.ts'
import { loadModel } from '../gpu-backend/src/pipeline/model.ts'
import { startService } from '../gpu-backend/src/service/server.ts'
import { backendJob } from '../gpu-backend/test/backend-job.ts'
import { MODELS, type ModelId, signRequest } from '../shared/src/index.ts'
import { benchModels } from './lib/models.ts'
import { median, type Ratio, report } from './lib/report.ts'
import { timeRuns } from './lib/run-timer.ts'

const SECRET = 'bench-secret'
const JOBS = Number(process.env.BENCH_JOBS ?? 16)
const ratios: Ratio[] = []

for (const m of await benchModels((name) => name.startsWith('tiny'))) {
  const manifest = JSON.parse(readFileSync(join(m.dir, 'manifest.json'), 'utf8')) as Manifest
  const model: ModelId = manifest.family === 'wuerstchen-v2' ? 'wuerstchen-v2' : 'stable-cascade'
  const svc = await startService(
    {
      port: 0,
      host: '127.0.0.1',
      secret: SECRET,
      modelDirs: [m.dir],
      queueDepth: 64,
      maxBatch: 4,
      batchWindowMs: 15,
      jobTimeoutMs: 600_000,
      provider: 'cpu',
      verifySha256: false,
    },
    {},
  )
  await svc.ready
  const d = MODELS[model].defaults
  let seed = 0
  const job = () =>
    backendJob({
      model,
      model_version: manifest.weights_version,
      width: m.size,
      height: m.size,
      seed: seed++,
      prior_steps: d.prior_steps,
      prior_guidance: d.prior_guidance,
      decoder_steps: d.decoder_steps,
      decoder_guidance: d.decoder_guidance,
    })
  const send = async () => {
    const body = JSON.stringify(await job())
    const res = await fetch(`${svc.url}/v1/generate`, {
      method: 'POST',
      body,
      headers: {
        'Content-Type': 'application/json',
        Accept: 'image/*',
        ...(await signRequest(SECRET, body)),
      },
    })
    const bytes = new Uint8Array(await res.arrayBuffer())
    if (res.status !== 200 || bytes[1] !== 0x50) throw new Error(`job failed: ${res.status}`)
  }
  /** JOBS jobs through `clients` concurrent clients; images per second. */
  const throughput = async (clients: number) => {
    const t0 = performance.now()
    let left = JOBS
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (left-- > 0) await send()
      }),
    )
    return JOBS / ((performance.now() - t0) / 1000)
  }
  await throughput(4) // warm-up
  const one = await throughput(1)
  const four = await throughput(4)
  await svc.close()
  console.log(
    `${m.label} @ ${m.size}², default steps: 1 client ${one.toFixed(2)} img/s, 4 clients ${four.toFixed(2)} img/s -> ${(four / one).toFixed(2)}x`,
  )
  ratios.push({
    measure: `images/s, 4 concurrent clients / 1 (dynamic batching): ${m.label}`,
    ratio: four / one,
    detail: `${four.toFixed(2)} vs ${one.toFixed(2)} img/s, ${JOBS} jobs each, MAX_BATCH 4, ${m.size}², ${d.prior_steps} + ${d.decoder_steps} steps`,
    target: '≥ 1.6',
  })

  const loaded = await loadModel(m.dir)
  const batch = (n: number) =>
    generate(loaded, {
      width: m.size,
      height: m.size,
      images: Array.from({ length: n }, (_, i) => ({
        seed: i,
        prompt: 'a lighthouse at dusk',
        negativePrompt: '',
      })),
      priorSteps: d.prior_steps,
      priorGuidance: d.prior_guidance,
      decoderSteps: d.decoder_steps,
      decoderGuidance: d.decoder_guidance,
      groups: Array(n).fill(1), // as the scheduler batches independent jobs
    })
  await batch(4) // warm-up: arenas sized for the larger batch
  const runs = { 1: [] as number[], 4: [] as number[] }
  for (let i = 0; i < 3; i++)
    for (const n of [1, 4] as const) runs[n].push((await timeRuns(() => batch(n))).run)
  const [run1, run4] = [median(runs[1]), median(runs[4])]
  console.log(`${m.label}: Σ session.run batch 1 ${run1.toFixed(0)} ms, batch 4 ${run4.toFixed(0)} ms`)
  ratios.push({
    measure: `batching ceiling on this machine, 4 × Σ session.run of batch 1 / of batch 4: ${m.label}`,
    ratio: (4 * run1) / run4,
    detail: `4 × ${run1.toFixed(0)} ms vs ${run4.toFixed(0)} ms, in-process, same steps (median of 3)`,
  })
}
report('service-batching', ratios)
process.exit(0)
