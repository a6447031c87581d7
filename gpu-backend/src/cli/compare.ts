// `cascade compare`: prints what compareModels (pipeline/compare.ts) measured, as a table, or as JSON.
import { readFileSync } from 'node:fs'
import { type CompareOptions, type CompareReport, compareModels } from '../pipeline/compare.ts'

/** The default prompt set: eight scenes of different kinds (objects, people, landscapes, text, styles). */
export const COMPARE_PROMPTS = [
  'a red fox in the snow, photograph',
  'a lighthouse at dusk, oil painting',
  'portrait of an old fisherman, detailed, 85mm',
  'a bowl of ramen on a wooden table, studio lighting',
  'a futuristic city at night with neon signs',
  'a watercolor map of an imaginary island',
  'a sign that says "cascade" in a forest clearing',
  'an astronaut riding a horse on mars, digital art',
] as const

/** One prompt per non-empty line. */
export function readPrompts(path: string): string[] {
  const prompts = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
  if (!prompts.length) throw new Error(`${path} holds no prompt (one per line)`)
  return prompts
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const e = (x: number) => x.toExponential(2)
const db = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'inf')

export function formatReport(r: CompareReport): string {
  const [a, b] = r.models as [CompareReport['models'][0], CompareReport['models'][0]]
  const q = r.request
  const lines = [
    `A ${a.dir} (${a.dtype})`,
    `B ${b.dir} (${b.dtype})${a.weightsVersion === b.weightsVersion ? '' : ', other weights'}`,
    `${q.width}×${q.height}, prior ${q.priorSteps} steps × ${q.priorGuidance}, decoder ${q.decoderSteps} steps × ${q.decoderGuidance}`,
    '',
    'single forwards on identical inputs (relative L2 error of B against A)',
    ...r.forwards.map(
      (f) => `  ${f.graph.padEnd(16)} max ${e(f.max)}  mean ${e(f.mean)}  (${f.calls} calls)`,
    ),
    '',
    'images (B against A)',
    ...r.images.map(
      (i) =>
        `  seed ${String(i.seed).padEnd(6)} PSNR ${db(i.psnr).padStart(6)} dB  SSIM ${i.ssim.toFixed(4)}  Stage C latent ${e(i.latent)}  ${(i.ms[0] / 1000).toFixed(1)} s / ${(i.ms[1] / 1000).toFixed(1)} s  ${i.prompt}`,
    ),
  ]
  const psnrs = r.images.map((i) => i.psnr)
  const ssims = r.images.map((i) => i.ssim)
  const latents = r.images.map((i) => i.latent)
  const [ta, tb] = [mean(r.images.map((i) => i.ms[0])), mean(r.images.map((i) => i.ms[1]))]
  lines.push(
    '',
    `PSNR mean ${db(mean(psnrs))} dB, min ${db(Math.min(...psnrs))} dB; SSIM mean ${mean(ssims).toFixed(4)}, min ${Math.min(...ssims).toFixed(4)}; Stage C latent mean ${e(mean(latents))}, max ${e(Math.max(...latents))}`,
    `wall time per image: A ${(ta / 1000).toFixed(1)} s, B ${(tb / 1000).toFixed(1)} s (A / B ${(ta / tb).toFixed(2)})`,
  )
  if (r.models.some((m) => m.randomWeights))
    lines.push('random weights (make-tiny): these figures are a proxy for what real weights would show')
  return lines.join('\n')
}

export async function compareCommand(o: CompareOptions & { json: boolean }): Promise<CompareReport> {
  const report = await compareModels({
    ...o,
    onPhase: (what) => {
      if (!o.json) console.error(what)
    },
  })
  console.log(o.json ? JSON.stringify(report, null, 1) : formatReport(report))
  return report
}
