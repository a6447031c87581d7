// The pipeline's own cost, measured side by side in one run on tiny and mid-size random models (CPU EP):
//   overhead  wall time of text -> C -> B -> A (no image encoding) / Σ session.run inside it   (target ≤ 1.03)
//   CFG       Stage C with guidance as one batch-2 run per step vs two batch-1 runs (2 × the no-guidance time)
//   memory    peak RSS of a fresh process that loads the model and generates / bytes of its graphs (≤ 1.25), on
//             the mid-size model
// Every session.run is timed by wrapping onnxruntime's InferenceSession.prototype.run (benchmark only).
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { type GenerateRequest, generate } from '../gpu-backend/src/pipeline/generate.ts'
import { loadModel } from '../gpu-backend/src/pipeline/model.ts'
import { ort } from '../gpu-backend/src/runtime/session.ts'
import { benchModels } from './lib/models.ts'
import { median, type Ratio, report } from './lib/report.ts'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)

let inRun = 0
// InferenceSession is typed as a factory; at run time it is the class whose instances the pipeline uses.
const proto = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype
const run = proto.run
proto.run = async function (this: ort.InferenceSession, ...args: Parameters<typeof run>) {
  const t0 = performance.now()
  try {
    return await run.apply(this, args)
  } finally {
    inRun += performance.now() - t0
  }
} as typeof run

const ratios: Ratio[] = []
const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`

for (const m of await benchModels()) {
  const model = await loadModel(m.dir)
  const req = (priorGuidance: number, format?: 'png'): GenerateRequest => ({
    width: m.size,
    height: m.size,
    images: [{ seed: 7, prompt: 'a lighthouse at dusk', negativePrompt: '', ...(format ? { format } : {}) }],
    priorSteps: 8,
    priorGuidance,
    decoderSteps: 4,
    decoderGuidance: 0,
  })
  await generate(model, req(4, 'png')) // warm-up: first runs allocate arenas and cache the prompts' text states

  const walls: number[] = []
  const runs: number[] = []
  const stageC = { cfg: [] as number[], single: [] as number[] }
  for (let i = 0; i < RUNS; i++) {
    inRun = 0
    const t0 = performance.now()
    const res = await generate(model, req(4))
    walls.push(performance.now() - t0)
    runs.push(inRun)
    stageC.cfg.push(res.timings.stage_c)
    stageC.single.push((await generate(model, req(1))).timings.stage_c)
  }
  const [wall, inOrt] = [median(walls), median(runs)]
  const [cfg, single] = [median(stageC.cfg), median(stageC.single)]
  console.log(
    `${m.label} @ ${m.size}²: wall ${wall.toFixed(1)} ms, Σ session.run ${inOrt.toFixed(1)} ms -> ${(wall / inOrt).toFixed(3)}; ` +
      `Stage C with CFG ${cfg.toFixed(1)} ms vs 2 × ${single.toFixed(1)} ms -> ${((2 * single) / cfg).toFixed(2)}x`,
  )
  ratios.push(
    {
      measure: `pipeline wall / Σ session.run: ${m.label}`,
      ratio: wall / inOrt,
      detail: `${wall.toFixed(1)} vs ${inOrt.toFixed(1)} ms (8 + 4 steps at ${m.size}², median of ${RUNS}, no image encoding)`,
      target: '≤ 1.03',
    },
    {
      measure: `CFG: two batch-1 runs / one batch-2 run (Stage C): ${m.label}`,
      ratio: (2 * single) / cfg,
      detail: `2 × ${single.toFixed(1)} vs ${cfg.toFixed(1)} ms for 8 steps`,
    },
  )

  // A tiny model's graphs (1–4 MiB) are dwarfed by the Node process itself: memory is measured on mid-size ones.
  if (!m.label.startsWith('mid')) continue
  const probe = JSON.parse(
    execFileSync('tsx', [join(import.meta.dirname, 'lib', 'rss-probe.ts'), m.dir, String(m.size)], {
      encoding: 'utf8',
    }),
  ) as { before: number; peak: number; graphBytes: number }
  console.log(
    `${m.label}: peak RSS ${mb(probe.peak)} (${mb(probe.before)} before loading), graphs ${mb(probe.graphBytes)}`,
  )
  ratios.push({
    measure: `peak RSS / graph bytes: ${m.label}`,
    ratio: probe.peak / probe.graphBytes,
    detail: `${mb(probe.peak)} vs ${mb(probe.graphBytes)}; above the ${mb(probe.before)} of a process before loading: ${((probe.peak - probe.before) / probe.graphBytes).toFixed(2)}`,
    target: '≤ 1.25',
  })
}
report('pipeline', ratios)
