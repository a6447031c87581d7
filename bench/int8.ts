// int8 graphs against fp32, side by side in one run, 2 onnxruntime threads (bench/results.md: int8 rows).
// Default: the mid-size Stable Cascade (bench/lib/models.ts), each graph's single forward. BENCH_INT8=1 (many hours on
// two cores; one released model on disk at a time, about 20 GB): the released sizes with random weights (bf16
// checkpoints, converted to fp32, int8 and int8 with --int8-block 32):
//   forwards  one forward of each graph on the inputs of the first step of a 1024² fp32 generation (recorded with
//             cascade compare's recorder), fp32 / int8 time (targets: Stage C ≥ 2.0, B ≥ 1.8, A ≥ 1.5) and relative
//             L2 error against fp32 (target ≤ 1e-2), for both int8 forms; time per operator type of fp32 and int8
//             (onnxruntime's profiler): where the time goes. Stable Cascade lite (bigG text encoder, Stage C, B, A)
//             and Würstchen v2 (bigG, CLIP-H, prior, decoder, Stage A; its random prior conditioned as a trained one
//             is, conditionRandomPrior in make-tiny.ts).
//   memory    peak RSS generating at 1024² (4 + 2 steps with guidance) and RSS after loading against the graph
//             bytes: Stable Cascade lite in fp32 and int8, Stable Cascade big with its text encoder in int8
//             (target ≤ 16 GiB)
//   images    cascade compare at 1024² with the official steps on 8 prompts × 2 seeds (BENCH_INT8_IMAGES=n takes the
//             first n pairs), fp32 against int8 (BENCH_INT8_IMAGE_FORMS=int8,int8-block32 adds the blockwise form):
//             PSNR (target ≥ 30 dB), SSIM, Stage C latent error, and the wall time of a whole image in each precision
//   sensitivity  (Stable Cascade lite, only when BENCH_INT8_PARTS names it; about an hour) each group of layers
//             alone in int8, its error against fp32: the pass behind the default keep-fp32 list
// BENCH_INT8_PARTS=forwards,memory,images (the default) runs a subset, BENCH_INT8_MODELS=lite,v2,big (the default) a
// subset of the models; a subset replaces its own rows in bench/out/int8.json and keeps the others there. Each
// released model is removed once measured unless BENCH_INT8_KEEP=1.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { COMPARE_PROMPTS } from '../gpu-backend/src/cli/compare.ts'
import type { StageId } from '../gpu-backend/src/compiler/stages.ts'
import { compareModels } from '../gpu-backend/src/pipeline/compare.ts'
import { generate } from '../gpu-backend/src/pipeline/generate.ts'
import { relL2 } from '../gpu-backend/src/pipeline/image-metrics.ts'
import { loadModel, modelSessions, releaseModel } from '../gpu-backend/src/pipeline/model.ts'
import { type RecordedCall, recordCalls } from '../gpu-backend/src/pipeline/record-calls.ts'
import { createSession, type ort, runFloat32 } from '../gpu-backend/src/runtime/session.ts'
import { MODELS } from '../shared/src/index.ts'
import { sensitivity } from './lib/int8-sensitivity.ts'
import {
  BIG_SC,
  LITE_SC,
  MID_SC,
  type Precision,
  RELEASED_V2,
  type ReleasedSpec,
  releasedModel,
  releasedRoot,
} from './lib/models.ts'
import { compareOps, profileOps } from './lib/ort-profile.ts'
import { median, type Ratio, report } from './lib/report.ts'

const THREADS = 2
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const RELEASED = process.env.BENCH_INT8 === '1'
const PARTS = new Set((process.env.BENCH_INT8_PARTS ?? 'forwards,memory,images').split(','))
const KEEP = process.env.BENCH_INT8_KEEP === '1'
const IMAGES = Number(process.env.BENCH_INT8_IMAGES ?? COMPARE_PROMPTS.length * 2)
/** The int8 forms whose images are compared with fp32's. */
const IMAGE_FORMS = (process.env.BENCH_INT8_IMAGE_FORMS ?? 'int8').split(',') as Precision[]
const MODELS_RUN = new Set((process.env.BENCH_INT8_MODELS ?? 'lite,v2,big').split(','))
const ratios: Ratio[] = []
const OUT_FILE = join(import.meta.dirname, 'out', 'int8.json')
/** A subset run keeps the rows it does not measure (a released run takes hours: it is done in parts). */
const earlier: Ratio[] =
  process.env.BENCH_INT8_MODELS && RELEASED && existsSync(OUT_FILE)
    ? (JSON.parse(readFileSync(OUT_FILE, 'utf8')) as { ratios: Ratio[] }).ratios
    : []
/** Writes the rows measured so far, in place of the earlier rows of the same measure. */
function save(): void {
  const now = new Map(ratios.map((r) => [r.measure, r]))
  const kept = earlier.map((r) => now.get(r.measure) ?? r)
  const have = new Set(kept.map((r) => r.measure))
  report('int8', [...kept, ...ratios.filter((r) => !have.has(r.measure))])
}
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const GiB = 2 ** 30

const SPECS: Record<string, ReleasedSpec & { label: string; size: number; targets: Record<string, string> }> =
  {
    mid: {
      label: 'mid Stable Cascade',
      name: 'sc-mid',
      family: 'stable-cascade',
      variant: 'mid',
      configs: MID_SC,
      size: 512,
      targets: {},
    },
    lite: {
      label: 'Stable Cascade lite',
      name: 'sc-lite',
      family: 'stable-cascade',
      variant: 'lite',
      configs: LITE_SC,
      size: 1024,
      targets: { stage_c: '≥ 2.0', stage_b: '≥ 1.8', stage_a_decoder: '≥ 1.5' },
    },
    v2: {
      label: 'Würstchen v2',
      name: 'v2',
      family: 'wuerstchen-v2',
      variant: 'v2',
      configs: RELEASED_V2,
      size: 1024,
      targets: {},
    },
  }

const GRAPH_LABELS: Record<string, string> = {
  text_encoder: 'text encoder',
  text_encoder_2: 'decoder text encoder (CLIP-H)',
  stage_c: 'Stage C',
  stage_b: 'Stage B',
  stage_a_decoder: 'Stage A decoder',
}

/** The first call of every graph in a short fp32 generation (guidance on, as served): real inputs at real sizes. */
async function recordInputs(dir: string, size: number): Promise<Record<string, RecordedCall>> {
  const model = await loadModel(dir, { intraOpThreads: THREADS })
  const recorders = Object.entries(modelSessions(model)).map(([name, session]) => ({
    name,
    rec: recordCalls(session, (i) => i === 0),
  }))
  const d = MODELS[model.id].defaults
  await generate(model, {
    width: size,
    height: size,
    images: [{ seed: 1, prompt: COMPARE_PROMPTS[0], negativePrompt: '' }],
    priorSteps: 2,
    priorGuidance: d.prior_guidance,
    decoderSteps: 2,
    decoderGuidance: d.decoder_guidance,
  })
  for (const r of recorders) r.rec.stop()
  await releaseModel(model)
  return Object.fromEntries(recorders.map((r) => [r.name, r.rec.calls[0] as RecordedCall]))
}

/**
 * One graph in every precision on the same inputs: median times of RUNS interleaved runs, each int8 form's error
 * against fp32, and the op profile of fp32 against int8.
 */
async function forwardPair(
  spec: (typeof SPECS)[string],
  graph: string,
  dirs: Record<string, string>,
  call: RecordedCall,
): Promise<void> {
  const path = (p: string) => join(dirs[p] as string, `${graph}.onnx`)
  const precisions = Object.keys(dirs)
  const sessions: Record<string, ort.InferenceSession> = {}
  for (const p of precisions) sessions[p] = await createSession(path(p), { intraOpThreads: THREADS })
  const times: Record<string, number[]> = Object.fromEntries(precisions.map((p) => [p, []]))
  const outs: Record<string, Record<string, Float32Array>> = {}
  for (let r = 0; r <= RUNS; r++)
    for (const p of precisions) {
      const t0 = performance.now()
      const out = await runFloat32(sessions[p] as ort.InferenceSession, call.feeds)
      // The first run of each allocates and packs: not timed.
      if (r > 0) (times[p] as number[]).push(performance.now() - t0)
      outs[p] = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data]))
    }
  for (const session of Object.values(sessions)) await session.release()
  const label = `${GRAPH_LABELS[graph] ?? graph}, ${spec.label}`
  const shapes = Object.entries(call.feeds)
    .map(([k, v]) => `${k} ${v.dims.join('×')}`)
    .join(', ')
  const fp32 = median(times.fp32 as number[])
  for (const p of precisions.filter((x) => x !== 'fp32')) {
    const t = median(times[p] as number[])
    const err = Math.max(
      ...Object.entries(outs.fp32 ?? {}).map(([k, ref]) => relL2(outs[p]?.[k] as Float32Array, ref)),
    )
    const form = p === 'int8' ? 'int8' : `${p} (--int8-block 32)`
    console.log(
      `${label}: fp32 ${s(fp32)}, ${form} ${s(t)} -> ${(fp32 / t).toFixed(2)}x, error ${err.toExponential(2)}`,
    )
    ratios.push(
      {
        measure: `single forward, fp32 / ${form} time: ${label}`,
        ratio: fp32 / t,
        detail: `${s(fp32)} vs ${s(t)} (median of ${RUNS}; ${shapes})`,
        ...(p === 'int8' && spec.targets[graph] ? { target: spec.targets[graph] } : {}),
      },
      {
        measure: `single forward, relative L2 error of ${form} against fp32: ${label}`,
        ratio: err,
        detail: `on the inputs of the first step of a ${spec.size}² generation`,
        target: '≤ 0.01',
      },
    )
  }
  const [pa, pb] = [
    await profileOps(path('fp32'), call.feeds, THREADS),
    await profileOps(path('int8'), call.feeds, THREADS),
  ]
  console.log(`  profile (ms, fp32 → int8): ${compareOps(pa.ops, pb.ops, 12)}`)
  ratios.push({
    measure: `profile, time per operator type (ms, fp32 → int8): ${label}`,
    ratio: pa.total / pb.total,
    detail: `${compareOps(pa.ops, pb.ops)}; whole run ${pa.total.toFixed(0)} → ${pb.total.toFixed(0)} ms (onnxruntime's profiler)`,
  })
}

async function forwards(spec: (typeof SPECS)[string], dirs: Record<string, string>): Promise<void> {
  const inputs = await recordInputs(dirs.fp32 as string, spec.size)
  for (const [graph, call] of Object.entries(inputs)) await forwardPair(spec, graph, dirs, call)
}

const GRAPH_STAGES: Record<string, StageId> = {
  text_encoder: 'text',
  text_encoder_2: 'text_2',
  stage_c: 'c',
  stage_b: 'b',
  stage_a_decoder: 'a',
}

async function sensitivityPass(spec: (typeof SPECS)[string], dirs: Record<string, string>, src: string) {
  const inputs = await recordInputs(dirs.fp32 as string, spec.size)
  for (const [graph, call] of Object.entries(inputs)) {
    const stage = GRAPH_STAGES[graph] as StageId
    const r = await sensitivity(spec.family, stage, spec.variant, src, `${graph}.onnx`, call, THREADS)
    const label = `${GRAPH_LABELS[graph] ?? graph}, ${spec.label}`
    const groups = r.groups.map((g) => `${g.group} (${g.layers}) ${g.error.toExponential(1)}`).join('; ')
    console.log(`${label}: every layer int8 ${r.all.toExponential(2)}; alone: ${groups}`)
    ratios.push({
      measure: `sensitivity, error with every linear and 1×1 layer int8: ${label}`,
      ratio: r.all,
      detail: `each group alone int8 (layers): ${groups}`,
    })
  }
}

async function images(
  spec: (typeof SPECS)[string],
  dirs: Record<string, string>,
  form: Precision,
): Promise<void> {
  const name = form === 'int8' ? 'int8' : `${form} (--int8-block 32)`
  const pairs = COMPARE_PROMPTS.flatMap((p) => [1, 2].map((seed) => ({ p, seed }))).slice(0, IMAGES)
  const prompts = [...new Set(pairs.map((x) => x.p))]
  const report = await compareModels({
    modelDirs: [dirs.fp32 as string, dirs[form] as string],
    prompts,
    seeds: prompts.length * 2 > IMAGES ? [1] : [1, 2],
    width: spec.size,
    height: spec.size,
    load: { intraOpThreads: THREADS },
    onPhase: (what) => console.log(`  ${spec.label}: ${what}`),
  })
  const psnrs = report.images.map((i) => i.psnr)
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  const q = report.request
  const steps = `${q.priorSteps} + ${q.decoderSteps} steps, guidance ${q.priorGuidance} / ${q.decoderGuidance}`
  const first = report.images[0]
  console.log(
    `${spec.label}: PSNR mean ${mean(psnrs).toFixed(2)} dB (min ${Math.min(...psnrs).toFixed(2)}), SSIM mean ${mean(report.images.map((i) => i.ssim)).toFixed(4)}`,
  )
  ratios.push(
    {
      measure: `image PSNR, ${name} against fp32 (dB, mean): ${spec.label}`,
      ratio: mean(psnrs),
      detail: `min ${Math.min(...psnrs).toFixed(2)} dB; SSIM mean ${mean(report.images.map((i) => i.ssim)).toFixed(4)}, min ${Math.min(...report.images.map((i) => i.ssim)).toFixed(4)}; Stage C latent error mean ${mean(report.images.map((i) => i.latent)).toExponential(2)}; ${report.images.length} images (${prompts.length} prompts × ${report.images.length / prompts.length} seeds) at ${spec.size}², ${steps}`,
      target: '≥ 30',
    },
    ...report.forwards.map((f) => ({
      measure: `single forward error on the recorded steps${form === 'int8' ? '' : ` of ${name}`} (max): ${GRAPH_LABELS[f.graph] ?? f.graph}, ${spec.label}`,
      ratio: f.max,
      detail: `mean ${f.mean.toExponential(2)} over ${f.calls} calls (first, middle and last step of image 1)`,
      target: '≤ 0.01',
    })),
  )
  if (first)
    ratios.push({
      measure: `whole ${spec.size}² image, fp32 / ${name} wall time: ${spec.label}`,
      ratio: first.ms[0] / first.ms[1],
      detail: `${s(first.ms[0])} vs ${s(first.ms[1])} (text, ${steps}, Stage A; first image; mean over all: ${s(mean(report.images.map((i) => i.ms[0])))} vs ${s(mean(report.images.map((i) => i.ms[1])))})`,
    })
}

interface RssProbe {
  before: number
  loaded: number
  peak: number
  graphBytes: number
}

function memory(dir: string, label: string, size: number): void {
  const probe = join(import.meta.dirname, 'lib', 'rss-probe.ts')
  const p = JSON.parse(execFileSync('tsx', [probe, dir, String(size)], { encoding: 'utf8' })) as RssProbe
  const gib = (b: number) => `${(b / GiB).toFixed(2)} GiB`
  console.log(`${label}: peak RSS ${gib(p.peak)}, loaded ${gib(p.loaded)}, graphs ${gib(p.graphBytes)}`)
  ratios.push(
    {
      measure: `peak RSS generating at ${size}² (GiB): ${label}`,
      ratio: p.peak / GiB,
      detail: `${gib(p.peak)} (4 + 2 steps with guidance; ${gib(p.before)} before loading, ${gib(p.loaded)} loaded)`,
      target: '≤ 16',
    },
    {
      measure: `RSS added by loading / graph bytes: ${label}`,
      ratio: (p.loaded - p.before) / p.graphBytes,
      detail: `${gib(p.loaded - p.before)} vs ${gib(p.graphBytes)} of graphs: the int8 weights are not widened to float32`,
    },
  )
}

/** Measures one model's parts, then (unless BENCH_INT8_KEEP=1) removes it: each is 15–20 GB. */
async function released(key: string, parts: string[]): Promise<void> {
  if (!MODELS_RUN.has(key)) return
  const spec = SPECS[key] as (typeof SPECS)[string]
  const todo = parts.filter((p) => PARTS.has(p))
  if (!todo.length) return
  const precisions: Precision[] = todo.includes('forwards')
    ? ['fp32', 'int8', 'int8-block32']
    : [...new Set<Precision>(['fp32', 'int8', ...(todo.includes('images') ? IMAGE_FORMS : [])])]
  const dirs = await releasedModel(spec, precisions, KEEP || todo.includes('sensitivity'))
  save()
  if (todo.includes('forwards')) await forwards(spec, dirs)
  if (todo.includes('memory')) {
    memory(dirs.fp32 as string, `${spec.label}, fp32`, spec.size)
    memory(dirs.int8 as string, `${spec.label}, int8`, spec.size)
  }
  if (todo.includes('images')) for (const form of IMAGE_FORMS) await images(spec, dirs, form)
  if (todo.includes('sensitivity')) await sensitivityPass(spec, dirs, join(releasedRoot(spec), 'checkpoints'))
  if (!KEEP) rmSync(releasedRoot(spec), { recursive: true, force: true })
  // What is measured so far survives a run cut short (npm run bench -- int8 --no-run writes it).
  save()
}

if (!RELEASED) {
  const mid = SPECS.mid as (typeof SPECS)[string]
  await forwards(mid, await releasedModel(mid, ['fp32', 'int8', 'int8-block32'], true))
} else {
  // Disk allows one released model at a time: the quick parts of every model come first, rebuilding is cheap.
  await released('lite', ['forwards', 'memory'])
  await released('v2', ['forwards'])
  if (PARTS.has('memory') && MODELS_RUN.has('big')) {
    const big = { name: 'sc-big', family: 'stable-cascade' as const, variant: 'big', configs: BIG_SC }
    const dirs = await releasedModel(big, ['int8'])
    memory(dirs.int8 as string, 'Stable Cascade big with its text encoder, int8', 1024)
    if (!KEEP) rmSync(releasedRoot(big), { recursive: true, force: true })
    save()
  }
  await released('lite', ['images', 'sensitivity'])
  await released('v2', ['images'])
}
save()
process.exit(0)
