// The pipeline's own cost, measured side by side in one run on tiny and mid-size random models (CPU EP):
//   overhead  wall time of text -> C -> B -> A (no image encoding) / Σ session.run inside it   (target ≤ 1.03)
//   noise     the same generation with its noise drawn on the pipeline thread / on the noise thread (the default)
//   CFG       Stage C with guidance as one batch-2 run per step vs two batch-1 runs (2 × the no-guidance time)
//   spinning  the same generation with onnxruntime's threads spinning on after each run (its default) / stopped
//   loop      the same generation with the sampling loops as step graphs (the GPU providers' default) / on the host
//   memory    peak RSS of a fresh process that loads the model and generates / bytes of its graphs (≤ 1.25), and
//             what loading alone keeps resident, on the mid-size model (and on Stable Cascade lite at its released
//             sizes with BENCH_LITE=1), and what generating adds with onnxruntime's memory pattern on / off (off served)
// Tiny models are measured twice: with onnxruntime's default threads (every core inside session.run) and with one
// intra-op thread, which leaves the host a core the way a GPU does: there the noise thread has room to work.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type GenerateRequest, generate } from '../gpu-backend/src/pipeline/generate.ts'
import { type LoadedModel, loadModel } from '../gpu-backend/src/pipeline/model.ts'
import { seededNoise } from '../gpu-backend/src/pipeline/noise.ts'
import { type BenchModel, benchModels } from './lib/models.ts'
import { median, type Ratio, report } from './lib/report.ts'
import { timeRuns } from './lib/run-timer.ts'

const RUNS = Number(process.env.BENCH_RUNS ?? 7)

const ratios: Ratio[] = []
const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`
const ms = (t: number) => `${t.toFixed(1)} ms`

const request = (size: number, priorGuidance: number, format?: 'png'): GenerateRequest => ({
  width: size,
  height: size,
  images: [{ seed: 7, prompt: 'a lighthouse at dusk', negativePrompt: '', ...(format ? { format } : {}) }],
  priorSteps: 8,
  priorGuidance,
  decoderSteps: 4,
  decoderGuidance: 0,
})

/**
 * Median wall and Σ session.run of each side's generation, RUNS of each, interleaved so that drift falls on every
 * side alike; `pause` ms before each one lets the previous side's threads settle.
 */
async function sideBySide<K extends string>(
  sides: Record<K, () => Promise<unknown>>,
  pause = 0,
): Promise<Record<K, { wall: number; run: number }>> {
  const names = Object.keys(sides) as K[]
  type Times = { wall: number[]; run: number[] }
  const times = Object.fromEntries(names.map((name): [K, Times] => [name, { wall: [], run: [] }])) as Record<
    K,
    Times
  >
  for (let i = 0; i < RUNS; i++)
    for (const name of names) {
      if (pause) await sleep(pause)
      const t = await timeRuns(sides[name])
      times[name].wall.push(t.wall)
      times[name].run.push(t.run)
    }
  return Object.fromEntries(
    names.map((name) => [name, { wall: median(times[name].wall), run: median(times[name].run) }]),
  ) as Record<K, { wall: number; run: number }>
}

/** Wall and Σ session.run of one generation, noise on the noise thread and on the pipeline thread. */
function overhead(model: LoadedModel, size: number) {
  const req = request(size, 4)
  return sideBySide({
    thread: () => generate(model, req),
    host: () => generate(model, req, { noise: seededNoise([7]) }),
  })
}

function overheadRatios(label: string, size: number, o: Awaited<ReturnType<typeof overhead>>): void {
  console.log(
    `${label} @ ${size}²: wall ${ms(o.thread.wall)}, Σ session.run ${ms(o.thread.run)} -> ${(o.thread.wall / o.thread.run).toFixed(3)}; ` +
      `noise on the pipeline thread: wall ${ms(o.host.wall)} -> ${(o.host.wall / o.thread.wall).toFixed(3)}x`,
  )
  ratios.push(
    {
      measure: `pipeline wall / Σ session.run: ${label}`,
      ratio: o.thread.wall / o.thread.run,
      detail: `${ms(o.thread.wall)} vs ${ms(o.thread.run)} (8 + 4 steps at ${size}², median of ${RUNS}, no image encoding)`,
      target: '≤ 1.03',
    },
    {
      measure: `wall, noise on the pipeline thread / on the noise thread: ${label}`,
      ratio: o.host.wall / o.thread.wall,
      detail: `${ms(o.host.wall)} vs ${ms(o.thread.wall)}; on the pipeline thread wall / Σ session.run is ${(o.host.wall / o.host.run).toFixed(2)}`,
    },
  )
}

/** Overhead, noise and CFG of one model, in this process. */
async function speed(m: BenchModel): Promise<void> {
  const model = await loadModel(m.dir)
  await generate(model, request(m.size, 4, 'png')) // warm-up: first runs allocate arenas and cache the text states
  overheadRatios(m.label, m.size, await overhead(model, m.size))

  const stageC = { cfg: [] as number[], single: [] as number[] }
  for (let i = 0; i < RUNS; i++) {
    stageC.cfg.push((await generate(model, request(m.size, 4))).timings.stage_c)
    stageC.single.push((await generate(model, request(m.size, 1))).timings.stage_c)
  }
  const [cfg, single] = [median(stageC.cfg), median(stageC.single)]
  console.log(
    `${m.label}: Stage C with CFG ${ms(cfg)} vs 2 × ${ms(single)} -> ${((2 * single) / cfg).toFixed(2)}x`,
  )
  ratios.push({
    measure: `CFG: two batch-1 runs / one batch-2 run (Stage C): ${m.label}`,
    ratio: (2 * single) / cfg,
    detail: `2 × ${ms(single)} vs ${ms(cfg)} for 8 steps`,
  })

  // onnxruntime's default lets a session's threads spin on after each run; the backend stops them. Interleaved,
  // with a pause before each generation so one side's spinning threads do not run into the other's.
  const spinning = await loadModel(m.dir, { spinAfterRun: true })
  await generate(spinning, request(m.size, 4))
  const walls = await sideBySide(
    {
      stop: () => generate(model, request(m.size, 4)),
      spin: () => generate(spinning, request(m.size, 4)),
    },
    50,
  )
  const [spin, stop] = [walls.spin.wall, walls.stop.wall]
  console.log(
    `${m.label}: threads spinning after a run ${ms(spin)} vs stopped ${ms(stop)} -> ${(spin / stop).toFixed(2)}x`,
  )
  ratios.push({
    measure: `wall, onnxruntime threads spinning after each run / stopped: ${m.label}`,
    ratio: spin / stop,
    detail: `${ms(spin)} vs ${ms(stop)} (8 + 4 steps at ${m.size}², median of ${RUNS}; stopped is what the backend runs)`,
  })

  // The on-device loop on the CPU provider: each step is two session runs (model, step graph) instead of one run
  // and the host's float32 loop; on a GPU it keeps the latents on the device, here it only shows what it costs.
  const device = await loadModel(m.dir, { loop: 'device' })
  await generate(device, request(m.size, 4))
  const loops = await sideBySide({
    host: () => generate(model, request(m.size, 4)),
    device: () => generate(device, request(m.size, 4)),
  })
  console.log(
    `${m.label}: loop as step graphs ${ms(loops.device.wall)} vs on the host ${ms(loops.host.wall)} -> ${(loops.device.wall / loops.host.wall).toFixed(2)}x`,
  )
  ratios.push({
    measure: `wall, sampling loop as step graphs / on the host (CPU provider): ${m.label}`,
    ratio: loops.device.wall / loops.host.wall,
    detail: `${ms(loops.device.wall)} vs ${ms(loops.host.wall)} (8 + 4 steps at ${m.size}², median of ${RUNS}; the CPU runs the host loop)`,
  })

  if (m.label.startsWith('tiny')) {
    const oneThread = await loadModel(m.dir, { intraOpThreads: 1 })
    await generate(oneThread, request(m.size, 4))
    overheadRatios(`${m.label}, one onnxruntime thread`, m.size, await overhead(oneThread, m.size))
  }
}

interface RssProbe {
  before: number
  loaded: number
  peak: number
  graphBytes: number
}

function rssProbe(m: BenchModel, ...flags: string[]): RssProbe {
  const probe = join(import.meta.dirname, 'lib', 'rss-probe.ts')
  return JSON.parse(
    execFileSync('tsx', [probe, m.dir, String(m.size), ...flags], { encoding: 'utf8' }),
  ) as RssProbe
}

/** Peak and loaded RSS of a fresh process that loads the model and generates once, as served and with onnxruntime's memory pattern. */
function memory(m: BenchModel): void {
  const probe = rssProbe(m)
  const patterned = rssProbe(m, 'mem-pattern')
  console.log(
    `${m.label}: peak RSS ${mb(probe.peak)} (${mb(probe.before)} before loading, ${mb(probe.loaded)} loaded; ${mb(patterned.peak)} with the memory pattern), graphs ${mb(probe.graphBytes)}`,
  )
  const added = (p: RssProbe) => p.peak - p.loaded
  ratios.push(
    {
      measure: `peak RSS / graph bytes: ${m.label}`,
      ratio: probe.peak / probe.graphBytes,
      detail: `${mb(probe.peak)} vs ${mb(probe.graphBytes)}, generating at ${m.size}² with guidance; above the ${mb(probe.before)} of a process before loading: ${((probe.peak - probe.before) / probe.graphBytes).toFixed(2)}`,
      target: '≤ 1.25',
    },
    {
      measure: `RSS added by loading / graph bytes: ${m.label}`,
      ratio: (probe.loaded - probe.before) / probe.graphBytes,
      detail: `${mb(probe.loaded - probe.before)} vs ${mb(probe.graphBytes)} (weights as external data, mapped by onnxruntime)`,
    },
    {
      measure: `RSS added by generating, onnxruntime memory pattern on / off: ${m.label}`,
      ratio: added(patterned) / added(probe),
      detail: `${mb(added(patterned))} vs ${mb(added(probe))} above the loaded model (off is what the backend runs)`,
    },
  )
}

for (const m of await benchModels()) {
  if (!m.memoryOnly) await speed(m)
  // A tiny model's graphs (1–4 MiB) are dwarfed by the Node process itself: memory is measured on larger ones.
  if (!m.label.startsWith('tiny')) memory(m)
}
report('pipeline', ratios)
process.exit(0)
