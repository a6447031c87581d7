// What each image mode costs next to text-to-image on the same model, and what live previews add to Stage C,
// measured side by side in one run (CPU EP, tiny and mid-size random Stable Cascades with every image graph):
//   img2img    (image encoding + Stage C) at strength 0.6 / Stage C of text-to-image   (target ≤ 0.65: 12 of 20
//              steps, plus the EfficientNet encoder)
//   modes      a whole generation (text, image encoding, C, B, A) per mode / text-to-image
//   previews   Stage C with previews / without: at the service's default throttle (one per 250 ms; target ≤ 1.05)
//              and with one on every step
// The previews run the previewer and copy its small picture to the host (what the service sends); JPEG encoding
// happens off the pipeline's path in the service, so it is left out.

import { type GenerateRequest, generate } from '../gpu-backend/src/pipeline/generate.ts'
import type { ImageInputs } from '../gpu-backend/src/pipeline/image-conditioning.ts'
import type { InputImage, InputMask } from '../gpu-backend/src/pipeline/inputs.ts'
import { type LoadedModel, loadModel } from '../gpu-backend/src/pipeline/model.ts'
import { seededNoise } from '../gpu-backend/src/pipeline/noise.ts'
import type { PreviewOptions } from '../gpu-backend/src/pipeline/previews.ts'
import { benchModels } from './lib/models.ts'
import { median, type Ratio, report } from './lib/report.ts'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const STEPS = 20
const STRENGTH = 0.6
const ms = (t: number) => `${t.toFixed(1)} ms`
const ratios: Ratio[] = []

/** A 768×768 photo-like input (a smooth gradient with a disc) and a mask over its centre. */
function inputs(): { image: InputImage; mask: InputMask } {
  const n = 768
  const rgb8 = new Uint8Array(3 * n * n)
  const repaint = new Uint8Array(n * n)
  for (let y = 0; y < n; y++)
    for (let x = 0; x < n; x++) {
      const p = y * n + x
      const disc = (x - n / 2) ** 2 + (y - n / 2) ** 2 < (n / 4) ** 2
      rgb8.set(disc ? [40, 60, 200] : [(x * 255) / n, (y * 255) / n, 120], 3 * p)
      repaint[p] = Math.abs(x - n / 2) < n / 5 && Math.abs(y - n / 2) < n / 5 ? 1 : 0
    }
  return { image: { width: n, height: n, rgb8 }, mask: { width: n, height: n, repaint } }
}

function request(size: number, mode: string, extra: Partial<GenerateRequest> = {}): GenerateRequest {
  const { image, mask } = inputs()
  const byMode: Record<string, { inputs?: ImageInputs; strength?: number }> = {
    text: {},
    variation: { inputs: { variation: image } },
    img2img: { inputs: { init: image }, strength: STRENGTH },
    inpainting: {
      inputs: {
        init: image,
        control: { type: 'inpainting', image, mask, strength: 1 },
        composite: { image, mask },
      },
      strength: 1,
    },
    canny: { inputs: { control: { type: 'canny', image, preprocessed: false, strength: 1 } } },
  }
  const m = byMode[mode] ?? {}
  return {
    width: size,
    height: size,
    images: [
      {
        seed: 7,
        prompt: 'a lighthouse at dusk',
        negativePrompt: '',
        ...(m.inputs ? { inputs: m.inputs } : {}),
      },
    ],
    priorSteps: STEPS,
    priorGuidance: 4,
    decoderSteps: 4,
    decoderGuidance: 0,
    ...(m.strength !== undefined ? { strength: m.strength } : {}),
    ...extra,
  }
}

interface Timed {
  wall: number
  image: number
  stageC: number
}

interface Sides<K extends string> {
  /** Median of each side's times. */
  median: Record<K, Timed>
  /** Median over the runs of `measure(run)`: each run's sides ran back to back, so drift and the other load of a
   * shared machine fall on both sides of each ratio alike. */
  paired(measure: (t: Record<K, Timed>) => number): number
}

/** RUNS rounds, each side once per round back to back. */
async function sideBySide<K extends string>(
  sides: Record<K, () => ReturnType<typeof generate>>,
): Promise<Sides<K>> {
  const names = Object.keys(sides) as K[]
  const rounds: Record<K, Timed>[] = []
  for (let i = 0; i < RUNS; i++) {
    const round = {} as Record<K, Timed>
    for (const name of names) {
      const t0 = performance.now()
      const r = await sides[name]()
      round[name] = { wall: performance.now() - t0, image: r.timings.image, stageC: r.timings.stage_c }
    }
    rounds.push(round)
  }
  const med = (name: K, k: keyof Timed) => median(rounds.map((r) => r[name][k]))
  return {
    median: Object.fromEntries(
      names.map((n) => [n, { wall: med(n, 'wall'), image: med(n, 'image'), stageC: med(n, 'stageC') }]),
    ) as Record<K, Timed>,
    paired: (measure) => median(rounds.map(measure)),
  }
}

/** Previews every `intervalMs` (0: every step), counted. */
function previews(intervalMs: number): PreviewOptions & { count: () => number } {
  let last = Number.NEGATIVE_INFINITY
  let n = 0
  return {
    wants: () => {
      if (performance.now() - last < intervalMs) return false
      last = performance.now()
      return true
    },
    onPreview: () => {
      n++
    },
    count: () => n,
  }
}

async function modes(label: string, model: LoadedModel, size: number): Promise<void> {
  const noise = () => seededNoise([7])
  const run = (mode: string) => () => generate(model, request(size, mode), { noise: noise() })
  // Each mode checked once, so the benchmark cannot time something that does not work: an image of the size, and
  // Stage C's steps (img2img: int(steps · strength)).
  for (const mode of ['text', 'variation', 'img2img', 'inpainting', 'canny']) {
    let steps = 0
    const r = await generate(model, request(size, mode), {
      noise: noise(),
      onStep: (e) => {
        if (e.stage === 'c') steps++
      },
    })
    const want = mode === 'img2img' ? Math.trunc(STEPS * STRENGTH) : STEPS
    if (r.images.dims.join() !== [1, 3, size, size].join() || steps !== want)
      throw new Error(`${mode}: a ${r.images.dims} image after ${steps} Stage C steps (want ${want})`)
  }
  const sides = await sideBySide({
    text: run('text'),
    variation: run('variation'),
    img2img: run('img2img'),
    inpainting: run('inpainting'),
    canny: run('canny'),
  })
  const t = sides.median
  const i2i = sides.paired((r) => (r.img2img.image + r.img2img.stageC) / r.text.stageC)
  console.log(
    `${label} @ ${size}², ${STEPS} + 4 steps: ` +
      Object.entries(t)
        .map(([k, v]) => `${k} ${ms(v.wall)} (image ${ms(v.image)}, C ${ms(v.stageC)})`)
        .join('; '),
  )
  ratios.push({
    measure: `img2img at strength ${STRENGTH}, image encoding + Stage C / text-to-image Stage C: ${label}`,
    ratio: i2i,
    target: '≤ 0.65',
    detail: `${ms(t.img2img.image)} + ${ms(t.img2img.stageC)} (${Math.trunc(STEPS * STRENGTH)} steps) vs ${ms(t.text.stageC)} (${STEPS} steps), ${size}², medians of ${RUNS}, one onnxruntime thread`,
  })
  for (const mode of ['variation', 'img2img', 'inpainting', 'canny'] as const)
    ratios.push({
      measure: `whole generation, ${mode} / text-to-image: ${label}`,
      ratio: sides.paired((r) => r[mode].wall / r.text.wall),
      detail: `${ms(t[mode].wall)} vs ${ms(t.text.wall)} (image inputs ${ms(t[mode].image)}, Stage C ${ms(t[mode].stageC)} vs ${ms(t.text.stageC)})`,
    })
}

async function previewOverhead(label: string, model: LoadedModel, size: number): Promise<void> {
  const throttled = previews(250)
  const every = previews(0)
  const req = request(size, 'text')
  const sides = await sideBySide({
    none: () => generate(model, req, { noise: seededNoise([7]) }),
    throttled: () => generate(model, req, { noise: seededNoise([7]), previews: throttled }),
    every: () => generate(model, req, { noise: seededNoise([7]), previews: every }),
  })
  const t = sides.median
  if (every.count() !== RUNS * STEPS) throw new Error(`${every.count()} previews for ${RUNS * STEPS} steps`)
  const perRun = (n: number) => (n / RUNS).toFixed(1)
  console.log(
    `${label} previews: Stage C ${ms(t.none.stageC)} without, ${ms(t.throttled.stageC)} throttled (${perRun(throttled.count())} a run), ${ms(t.every.stageC)} every step`,
  )
  ratios.push(
    {
      measure: `Stage C with live previews (one per 250 ms, the service default) / without: ${label}`,
      ratio: sides.paired((r) => r.throttled.stageC / r.none.stageC),
      target: '≤ 1.05',
      detail: `${ms(t.throttled.stageC)} vs ${ms(t.none.stageC)}, ${perRun(throttled.count())} previews a run of ${STEPS} steps`,
    },
    {
      measure: `Stage C with a preview on every step / without: ${label}`,
      ratio: sides.paired((r) => r.every.stageC / r.none.stageC),
      detail: `${ms(t.every.stageC)} vs ${ms(t.none.stageC)}, ${STEPS} previews (the previewer and the copy to the host)`,
    },
  )
}

for (const m of await benchModels((name) => name === 'tiny-sc' || name === 'mid-sc')) {
  // One onnxruntime thread: on a small shared CPU its times move less with the machine's other load.
  const model = await loadModel(m.dir, { intraOpThreads: 1 })
  await modes(m.label, model, m.size)
  await previewOverhead(m.label, model, m.size)
}
report('image-modes', ratios)
