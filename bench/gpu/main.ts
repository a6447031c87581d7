// The GPU benchmark (bench/gpu.sh runs it on an NVIDIA host as one bundled script): Stable Cascade lite at its
// released sizes with random weights on the WebGPU provider, float32 and float16 graphs:
// - each stage at 1024², 1 and 4 images (rows as the pipeline runs them: Stage C, B and the text encoder twice for
//   guidance), with the float16 output's relative error against float32 on the same inputs;
// - a whole 1024² image with the official steps (20 / 4.0, 10 / 1.1), 1 image and 4 images in one batch (what the
//   service runs for 4 concurrent compatible requests), the loops on the device.
// Everything runs under a time budget (GPU_BENCH_BUDGET_S): what does not fit is reported as skipped, and the
// results file is rewritten after every measurement, so a run cut short keeps what it measured.
// GPU_BENCH_SCALE=tiny or mid with GPU_BENCH_SIZE=256 make a small dry run (SwiftShader, CI machines).
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { convertModel } from '../../gpu-backend/src/compiler/convert.ts'
import { makeTiny } from '../../gpu-backend/src/compiler/make-tiny.ts'
import { type GenerateRequest, generate } from '../../gpu-backend/src/pipeline/generate.ts'
import { latentSizes } from '../../gpu-backend/src/pipeline/latents.ts'
import { loadModel } from '../../gpu-backend/src/pipeline/model.ts'
import { seededNoise } from '../../gpu-backend/src/pipeline/noise.ts'
import { probeProviders } from '../../gpu-backend/src/runtime/providers.ts'
import { createSession, ort, typedFeeds } from '../../gpu-backend/src/runtime/session.ts'
import { LITE_SC, MID_SC } from '../lib/models.ts'

const env = process.env
const SCALES = { lite: LITE_SC, mid: MID_SC, tiny: {} }
const SCALE = (env.GPU_BENCH_SCALE ?? 'lite') as keyof typeof SCALES
if (!(SCALE in SCALES)) throw new Error(`GPU_BENCH_SCALE must be one of ${Object.keys(SCALES)}`)
const SIZE = Number(env.GPU_BENCH_SIZE ?? 1024)
const BUDGET_MS = Number(env.GPU_BENCH_BUDGET_S ?? 420) * 1000
const WORK = env.GPU_BENCH_DIR ?? join(os.tmpdir(), 'cascade-gpu-bench')
const OUT = env.GPU_BENCH_OUT ?? join(import.meta.dirname, '..', 'results-gpu.md')
const TIMED_RUNS = 3
const t0 = performance.now()
const elapsed = () => performance.now() - t0
const secs = (ms: number) => (ms / 1000).toFixed(1)

const MODEL_LABEL = {
  lite: 'Stable Cascade lite at its released sizes (2.4 B parameters)',
  mid: 'a mid-size Stable Cascade (bench/lib/models.ts MID_SC)',
  tiny: "make-tiny's Stable Cascade",
}[SCALE]
const dirs = { fp32: join(WORK, `${SCALE}-fp32`), fp16: join(WORK, `${SCALE}-fp16`) }
type Dtype = keyof typeof dirs

// `main.mjs convert-fp16`: the float16 graphs from the float32 model's checkpoints, in a child process so the
// conversion runs on other cores while the float32 measurements use the GPU.
if (process.argv[2] === 'convert-fp16') {
  await convertModel({
    family: 'stable-cascade',
    from: join(dirs.fp32, 'checkpoints'),
    outDir: dirs.fp16,
    variant: SCALE,
    dtype: 'fp16',
    randomWeights: true,
  })
  process.exit(0)
}

const notes: string[] = []
const stageRows: string[] = []
const imageRows: string[] = []
const targets: string[] = []
let header: string[] = []

function write(): void {
  const lines = [
    '# GPU benchmark results',
    '',
    ...header,
    '',
    '## Each stage',
    '',
    `One forward at ${SIZE}², median of ${TIMED_RUNS} timed runs after a first run that compiles the shaders. Rows: the`,
    'text encoder, Stage C and Stage B run the conditional and unconditional batch together (2 rows per image), Stage A',
    'one row per image. fp16 error: max |fp16 − fp32| / max |fp32| on the same inputs, 1 image.',
    '',
    '| stage | graphs | load s | first run ms | ms, 1 image | ms, 4 images | images/s, 4 vs 1 | fp16 rel. error | finite |',
    '|---|---|---|---|---|---|---|---|---|',
    ...stageRows,
    '',
    '## A whole image',
    '',
    `${SIZE}², Stage C 20 steps at guidance 4.0, Stage B 10 steps at guidance 1.1, Stage A; the sampling loops on the`,
    'device. 4 images are one batch of 4 independent requests (each its own guidance group), as the service batches',
    'them. A first generation with one step per stage compiles the shaders of each batch size; it is not timed.',
    '',
    '| graphs | images | wall s | s per image | text ms | Stage C ms | Stage B ms | Stage A ms | check |',
    '|---|---|---|---|---|---|---|---|---|',
    ...imageRows,
    '',
    '## Targets',
    '',
    '| measure | value | target |',
    '|---|---|---|',
    ...targets,
    '',
    ...(notes.length ? ['## Notes', '', ...notes.map((n) => `- ${n}`), ''] : []),
  ]
  writeFileSync(OUT, lines.join('\n'))
}

function machine(): string[] {
  const smi = spawnSync(
    'nvidia-smi',
    ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'],
    { encoding: 'utf8' },
  )
  const gpu = smi.status === 0 ? smi.stdout.trim() : 'no nvidia-smi'
  const cpus = os.cpus()
  return [
    `Written by \`bench/gpu.sh\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    '',
    `Machine: ${gpu}; ${cpus[0]?.model ?? 'CPU'} × ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB;`,
    `Node ${process.version}; onnxruntime-node ${ort.env.versions.common} WebGPU execution provider (Dawn over Vulkan).`,
  ]
}

/** Runs `f` if the budget still has `needMs` left, else records it as skipped. */
async function within<T>(what: string, needMs: number, f: () => Promise<T>): Promise<T | undefined> {
  if (elapsed() + needMs > BUDGET_MS) {
    notes.push(`${what}: skipped, out of time (${secs(elapsed())} s of ${secs(BUDGET_MS)} s used)`)
    write()
    return undefined
  }
  try {
    return await f()
  } catch (err) {
    notes.push(`${what}: failed: ${(err as Error).message.split('\n')[0]}`)
    write()
    return undefined
  }
}

// Inputs -------------------------------------------------------------------------------------------------------

const sizes = latentSizes('stable-cascade', SIZE, SIZE)
const STAGES = {
  text: { graph: 'text_encoder', rowsPerImage: 2 },
  c: { graph: 'stage_c', rowsPerImage: 2 },
  b: { graph: 'stage_b', rowsPerImage: 2 },
  a: { graph: 'stage_a_decoder', rowsPerImage: 1 },
} as const
type Stage = keyof typeof STAGES

/** Deterministic values in [-1, 1) (xorshift32), so float32 and float16 runs see the same inputs. */
function values(n: number, seed: number): Float32Array {
  let s = seed
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    out[i] = (s >>> 0) / 2147483648 - 1
  }
  return out
}

function feeds(session: ort.InferenceSession, stage: Stage, rows: number): Record<string, ort.Tensor> {
  const axes: Record<string, number> = {
    batch: rows,
    seq: 77,
    images: 1,
    height: stage === 'c' ? sizes.c[0] : sizes.b[0],
    width: stage === 'c' ? sizes.c[1] : sizes.b[1],
    effnet_height: sizes.c[0],
    effnet_width: sizes.c[1],
    latent_height: sizes.b[0],
    latent_width: sizes.b[1],
  }
  const host: Record<string, { data: Float32Array; dims: number[] } | ort.Tensor> = {}
  for (const [i, m] of session.inputMetadata.entries()) {
    if (!m.isTensor) continue
    const dims = m.shape.map((d) => (typeof d === 'number' ? d : (axes[d] as number)))
    const n = dims.reduce((a, b) => a * b, 1)
    if (m.name === 'input_ids' || m.name === 'attention_mask') {
      const ids = BigInt64Array.from({ length: n }, (_, j) =>
        m.name === 'attention_mask' ? (j % 77 < 12 ? 1n : 0n) : BigInt(j % 77 < 12 ? (j * 37) % 250 : 0),
      )
      host[m.name] = new ort.Tensor('int64', ids, dims)
    } else {
      const v = values(n, 1234 + i)
      host[m.name] = { data: m.name === 'r' ? v.map((x) => (x + 1) / 2) : v, dims }
    }
  }
  return typedFeeds(session, host)
}

function floatsOf(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array
  const h = t.data as Uint16Array
  const f = new Float32Array(h.length)
  const view = new DataView(new ArrayBuffer(4))
  for (let i = 0; i < h.length; i++) {
    const x = h[i] as number
    const e = (x >> 10) & 0x1f
    const m = x & 0x3ff
    const sign = x & 0x8000 ? -1 : 1
    view.setFloat32(
      0,
      e === 0
        ? sign * m * 2 ** -24
        : e === 31
          ? m
            ? Number.NaN
            : sign * Infinity
          : sign * (1 + m / 1024) * 2 ** (e - 15),
    )
    f[i] = view.getFloat32(0)
  }
  return f
}

function relErr(got: Float32Array, ref: Float32Array): number {
  let d = 0
  let m = 0
  for (let i = 0; i < ref.length; i++) {
    const x = Math.abs((got[i] as number) - (ref[i] as number))
    d = Number.isNaN(x) ? Number.POSITIVE_INFINITY : Math.max(d, x)
    m = Math.max(m, Math.abs(ref[i] as number))
  }
  return d / m
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

// Per stage ----------------------------------------------------------------------------------------------------

const fp32Outputs = new Map<Stage, Float32Array>()
const speedups = new Map<string, number>()

async function stage(dtype: Dtype, s: Stage): Promise<void> {
  const { graph, rowsPerImage } = STAGES[s]
  const loadStart = performance.now()
  const session = await createSession(join(dirs[dtype], `${graph}.onnx`), { provider: 'webgpu' })
  const load = performance.now() - loadStart
  const cell: Record<number, { first: number; ms: number; out: Float32Array }> = {}
  try {
    for (const images of [1, 4]) {
      const input = feeds(session, s, images * rowsPerImage)
      const run = async () => {
        const start = performance.now()
        const out = await session.run(input)
        const t = performance.now() - start
        return { t, out: floatsOf(Object.values(out)[0] as ort.Tensor) }
      }
      const first = await run()
      const times: number[] = []
      let last = first.out
      for (let i = 0; i < TIMED_RUNS; i++) {
        const r = await run()
        times.push(r.t)
        last = r.out
      }
      cell[images] = { first: first.t, ms: median(times), out: last }
    }
  } finally {
    await session.release()
  }
  const one = cell[1] as { first: number; ms: number; out: Float32Array }
  const four = cell[4] as { first: number; ms: number; out: Float32Array }
  if (dtype === 'fp32') fp32Outputs.set(s, one.out)
  const ref = fp32Outputs.get(s)
  const err = dtype === 'fp16' && ref ? relErr(one.out, ref).toExponential(2) : '—'
  const speedup = (4 * one.ms) / four.ms
  speedups.set(`${dtype}:${s}`, speedup)
  const finite = one.out.every(Number.isFinite) && four.out.every(Number.isFinite)
  stageRows.push(
    `| ${graph} | ${dtype} | ${secs(load)} | ${one.first.toFixed(0)} | ${one.ms.toFixed(1)} | ${four.ms.toFixed(1)} | ${speedup.toFixed(2)} | ${err} | ${finite ? 'yes' : 'NO'} |`,
  )
  write()
}

// A whole image --------------------------------------------------------------------------------------------------

const wall = new Map<string, number>()

async function wholeImage(dtype: Dtype): Promise<void> {
  const model = await loadModel(dirs[dtype], { provider: 'webgpu' })
  if (!model.device) throw new Error('the device loop is off')
  // The warm-up's prompts differ from the timed run's: the text encoder caches the states of recent prompts.
  const request = (images: number, steps: boolean): GenerateRequest => ({
    width: SIZE,
    height: SIZE,
    images: Array.from({ length: images }, (_, i) => ({
      seed: 100 + i,
      prompt: `a photo of a lighthouse, ${steps ? 'take' : 'warm-up'} ${i}`,
      negativePrompt: '',
    })),
    priorSteps: steps ? 20 : 1,
    priorGuidance: 4,
    decoderSteps: steps ? 10 : 1,
    decoderGuidance: 1.1,
    groups: Array.from({ length: images }, () => 1),
  })
  const images: Record<number, Float32Array> = {}
  for (const n of [1, 4]) {
    const noise = seededNoise(Array.from({ length: n }, (_, i) => 100 + i))
    await generate(model, request(n, false), { noise })
    const start = performance.now()
    const res = await generate(model, request(n, true), { noise })
    const w = performance.now() - start
    wall.set(`${dtype}:${n}`, w)
    images[n] = res.decoded.data
    const per = res.decoded.data.length / n
    const sameAsAlone =
      n === 4 && images[1]
        ? `image 1 of 4 vs alone: ${relErr(res.decoded.data.subarray(0, per), images[1]).toExponential(1)}`
        : ''
    const finite = res.decoded.data.every(Number.isFinite) ? 'finite' : 'NOT FINITE'
    const t = res.timings
    imageRows.push(
      `| ${dtype} | ${n} | ${secs(w)} | ${(w / 1000 / n).toFixed(2)} | ${t.text.toFixed(0)} | ${t.stage_c.toFixed(0)} | ${t.stage_b.toFixed(0)} | ${t.stage_a.toFixed(0)} | ${[finite, sameAsAlone].filter(Boolean).join('; ')} |`,
    )
    write()
  }
  await model.device.release()
}

// The run ---------------------------------------------------------------------------------------------------------

header = machine()
const probes = await probeProviders()
const webgpu = probes.find((p) => p.provider === 'webgpu')
header.push(
  '',
  `Providers: ${probes.map((p) => `${p.provider} ${p.usable ? 'runs' : 'no'}${p.usable ? `, fp16 ${p.fp16 ? 'yes' : 'no'}` : ''} (${p.detail})`).join('; ')}.`,
)
write()
if (!webgpu?.usable) throw new Error(`WebGPU does not run here: ${webgpu?.detail}`)

mkdirSync(WORK, { recursive: true })
if (!existsSync(join(dirs.fp32, 'manifest.json'))) {
  const start = performance.now()
  rmSync(dirs.fp32, { recursive: true, force: true })
  await makeTiny({
    family: 'stable-cascade',
    outDir: dirs.fp32,
    seed: 1,
    configs: SCALES[SCALE],
    variant: SCALE,
    fastInit: true,
  })
  header.push('', `Model: ${MODEL_LABEL}, random weights, built in ${secs(performance.now() - start)} s.`)
  write()
}
const fp16Ready = webgpu.fp16
  ? new Promise<number>((resolve, reject) => {
      if (existsSync(join(dirs.fp16, 'manifest.json'))) return resolve(0)
      const start = performance.now()
      const child = spawn(
        process.execPath,
        [...process.execArgv, process.argv[1] as string, 'convert-fp16'],
        {
          stdio: 'inherit',
        },
      )
      child.on('exit', (code) =>
        code === 0 ? resolve(performance.now() - start) : reject(new Error(`fp16 conversion exited ${code}`)),
      )
    })
  : Promise.reject(new Error(`this adapter runs no float16 graphs (${webgpu.detail})`))
fp16Ready.catch(() => {})

for (const s of Object.keys(STAGES) as Stage[]) await within(`fp32 ${s}`, 20_000, () => stage('fp32', s))
await within('fp32 whole image', 60_000, () => wholeImage('fp32'))
const fp16Ms = await within('fp16 graphs', 30_000, () => fp16Ready)
if (fp16Ms !== undefined) {
  if (fp16Ms) notes.push(`fp16 graphs converted in ${secs(fp16Ms)} s, beside the fp32 runs.`)
  for (const s of Object.keys(STAGES) as Stage[]) await within(`fp16 ${s}`, 15_000, () => stage('fp16', s))
  await within('fp16 whole image', 40_000, () => wholeImage('fp16'))
}

for (const dtype of ['fp32', 'fp16'] as const) {
  const c = speedups.get(`${dtype}:c`)
  if (c !== undefined) targets.push(`| Stage C images/s, 4 vs 1 (${dtype}) | ${c.toFixed(2)} | ≥ 2.5 |`)
  const one = wall.get(`${dtype}:1`)
  const four = wall.get(`${dtype}:4`)
  if (one !== undefined && four !== undefined)
    targets.push(`| whole pipeline images/s, 4 vs 1 (${dtype}) | ${((4 * one) / four).toFixed(2)} | ≥ 1.4 |`)
  if (one !== undefined) targets.push(`| one ${SIZE}² image, s (${dtype}) | ${secs(one)} | < 2.5 |`)
  if (four !== undefined)
    targets.push(`| s per image in a batch of 4 (${dtype}) | ${(four / 4000).toFixed(2)} | < 2.5 |`)
}
notes.push(`The whole run took ${secs(elapsed())} s.`)
write()
console.log(`wrote ${OUT}`)
