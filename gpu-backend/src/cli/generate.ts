// `cascade generate`: one prompt (and image inputs: image-inputs.ts) through a model directory to image files,
// with a progress bar per stage, and Stage C's live previews written to a folder when asked.

import { mkdirSync, writeFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import cliProgress from 'cli-progress'
import { MODELS, OUTPUT_FORMATS, type OutputFormat, type TilingAxes } from '../../../shared/src/index.ts'
import { generate, type PipelineStage } from '../pipeline/generate.ts'
import { encodePreview, toRgb8 } from '../pipeline/image.ts'
import { loadModel } from '../pipeline/model.ts'
import type { PreviewOptions } from '../pipeline/previews.ts'
import type { ProviderChoice } from '../runtime/providers.ts'
import { type ImageOptions, readImageOptions, usesImages } from './image-inputs.ts'

export interface GenerateCommandOptions extends ImageOptions {
  modelDir: string
  prompt?: string
  negativePrompt: string
  size: { width: number; height: number }
  seed?: number
  priorSteps?: number
  priorGuidance?: number
  decoderSteps?: number
  decoderGuidance?: number
  n: number
  out: string
  provider: ProviderChoice
  tiling?: TilingAxes
  /** Write each Stage C step's preview (the previewer on x0̂) into this folder. */
  previews?: string
}

const STAGE_LABELS: Record<PipelineStage, string> = {
  text: 'text    ',
  c: 'stage C ',
  b: 'stage B ',
  a: 'stage A ',
  encode: 'encode  ',
}

/** out.png -> out.png for one image; out-1.png, out-2.png, ... for several. */
export function outputPaths(out: string, n: number): string[] {
  if (n === 1) return [out]
  const ext = extname(out)
  const stem = out.slice(0, out.length - ext.length)
  return Array.from({ length: n }, (_, i) => `${stem}-${i + 1}${ext}`)
}

export function formatOf(out: string): OutputFormat {
  const ext = extname(out).slice(1).toLowerCase()
  const format = OUTPUT_FORMATS.find((f) => f === (ext === 'jpg' ? 'jpeg' : ext))
  if (!format) throw new Error(`--out must end in .png, .webp, .jpeg or .jpg, got "${out}"`)
  return format
}

export async function generateCommand(o: GenerateCommandOptions): Promise<string[]> {
  const format = formatOf(o.out)
  const model = await loadModel(o.modelDir, { provider: o.provider })
  const d = MODELS[model.id].defaults
  const priorSteps = o.priorSteps ?? d.prior_steps
  if (o.prompt === undefined && !o.image)
    throw new Error('--prompt is required (it may be left out only with --image)')
  const images = usesImages(o) ? await readImageOptions(o, model, { ...o.size, priorSteps }) : {}
  if (o.previews && !model.image.previewer) throw new Error(`--previews: ${model.id} has no previewer graph`)
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31)
  const previews = o.previews ? previewFiles(o.previews, o.n) : undefined
  const bars = new cliProgress.MultiBar(
    { format: '{stage} [{bar}] {value}/{total}', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  )
  const started = new Map<PipelineStage, cliProgress.SingleBar>()
  const res = await generate(
    model,
    {
      ...o.size,
      images: Array.from({ length: o.n }, (_, i) => ({
        seed: seed + i,
        prompt: o.prompt ?? '',
        negativePrompt: o.negativePrompt,
        format,
        ...(images.inputs ? { inputs: images.inputs } : {}),
      })),
      ...(images.strength !== undefined ? { strength: images.strength } : {}),
      priorSteps,
      priorGuidance: o.priorGuidance ?? d.prior_guidance,
      decoderSteps: o.decoderSteps ?? d.decoder_steps,
      decoderGuidance: o.decoderGuidance ?? d.decoder_guidance,
      ...(o.tiling ? { tiling: o.tiling } : {}),
    },
    {
      ...(previews ? { previews } : {}),
      onStep: ({ stage, step, steps }) => {
        // Bars draw only on a terminal; elsewhere (logs, CI) one line per finished stage.
        if (!process.stderr.isTTY) {
          if (step === steps) console.error(`${STAGE_LABELS[stage]} ${steps}/${steps}`)
          return
        }
        let bar = started.get(stage)
        if (!bar) {
          bar = bars.create(steps, 0, { stage: STAGE_LABELS[stage] })
          started.set(stage, bar)
        }
        bar.update(step)
      },
    },
  ).finally(() => bars.stop())
  await previews?.written()
  const paths = outputPaths(o.out, o.n)
  paths.forEach((p, i) => {
    writeFileSync(p, res.encoded[i] as Uint8Array)
  })
  console.log(`wrote ${paths.join(', ')} (${model.id}, seed ${seed}${o.n > 1 ? `..${seed + o.n - 1}` : ''})`)
  return paths
}

/** Every step's preview as <dir>/c-<step>[-<image>].jpg; `written` settles when all are on disk. */
function previewFiles(dir: string, n: number): PreviewOptions & { written: () => Promise<unknown> } {
  mkdirSync(dir, { recursive: true })
  const writes: Promise<void>[] = []
  return {
    wants: () => true,
    onPreview: ({ step, images }) => {
      for (let i = 0; i < n; i++) {
        const path = join(dir, `c-${String(step).padStart(2, '0')}${n > 1 ? `-${i + 1}` : ''}.jpg`)
        writes.push(encodePreview(toRgb8(images, i)).then((b) => writeFileSync(path, b)))
      }
    },
    written: () => Promise.all(writes),
  }
}
