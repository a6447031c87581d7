// `cascade generate`: one prompt through a model directory to image files, with a progress bar per stage.

import { writeFileSync } from 'node:fs'
import { extname } from 'node:path'
import cliProgress from 'cli-progress'
import { MODELS, OUTPUT_FORMATS, type OutputFormat, type TilingAxes } from '../../../shared/src/index.ts'
import { generate, type PipelineStage } from '../pipeline/generate.ts'
import { loadModel } from '../pipeline/model.ts'
import type { ProviderChoice } from '../runtime/providers.ts'

export interface GenerateCommandOptions {
  modelDir: string
  prompt: string
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
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31)
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
        prompt: o.prompt,
        negativePrompt: o.negativePrompt,
        format,
      })),
      priorSteps: o.priorSteps ?? d.prior_steps,
      priorGuidance: o.priorGuidance ?? d.prior_guidance,
      decoderSteps: o.decoderSteps ?? d.decoder_steps,
      decoderGuidance: o.decoderGuidance ?? d.decoder_guidance,
      ...(o.tiling ? { tiling: o.tiling } : {}),
    },
    {
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
  const paths = outputPaths(o.out, o.n)
  paths.forEach((p, i) => {
    writeFileSync(p, res.encoded[i] as Uint8Array)
  })
  console.log(`wrote ${paths.join(', ')} (${model.id}, seed ${seed}${o.n > 1 ? `..${seed + o.n - 1}` : ''})`)
  return paths
}
