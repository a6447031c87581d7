// The model directories the pipeline benchmarks run on: random weights, real architecture (make-tiny), built
// once into bench/out/models. "mid" is a Stable Cascade about 1/20 of the released Stage C's width per level,
// large enough that model calls, not Node, dominate a step.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { makeTiny } from '../../gpu-backend/src/compiler/make-tiny.ts'
import type { Family } from '../../gpu-backend/src/compiler/manifest.ts'
import type { Kwargs } from '../../gpu-backend/src/compiler/models/config.ts'
import type { StageId } from '../../gpu-backend/src/compiler/stages.ts'

export interface BenchModel {
  label: string
  dir: string
  /** Image size the benchmarks generate at. */
  size: number
}

export const MID_SC: Partial<Record<StageId, Kwargs>> = {
  text: { hidden_size: 256, intermediate_size: 1024, num_attention_heads: 4, projection_dim: 256 },
  c: {
    c_cond: 512,
    c_hidden: [512, 512],
    nhead: [8, 8],
    blocks: [
      [2, 4],
      [4, 2],
    ],
    c_clip_text: 256,
    c_clip_text_pooled: 256,
  },
  b: { c_cond: 256, c_hidden: [64, 128, 256, 256], nhead: [-1, -1, 4, 4], c_clip: 256 },
  a: { c_hidden: 64 },
}

const MODELS: { label: string; name: string; family: Family; size: number; configs?: typeof MID_SC }[] = [
  { label: 'tiny Würstchen v2', name: 'tiny-v2', family: 'wuerstchen-v2', size: 512 },
  { label: 'tiny Stable Cascade', name: 'tiny-sc', family: 'stable-cascade', size: 512 },
  { label: 'mid Stable Cascade', name: 'mid-sc', family: 'stable-cascade', size: 512, configs: MID_SC },
]

export async function benchModels(only?: (name: string) => boolean): Promise<BenchModel[]> {
  const out: BenchModel[] = []
  for (const m of MODELS) {
    if (only && !only(m.name)) continue
    const dir = join(import.meta.dirname, '..', 'out', 'models', m.name)
    if (!existsSync(join(dir, 'manifest.json')))
      await makeTiny({
        family: m.family,
        outDir: dir,
        seed: 1,
        ...(m.configs ? { configs: m.configs, variant: 'mid' } : {}),
      })
    out.push({ label: m.label, dir, size: m.size })
  }
  return out
}
