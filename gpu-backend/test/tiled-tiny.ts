// Tiny models for the tiling tests: make-tiny's model directory (it converts with --tiling), except that Würstchen
// v2's prior is conditioned as a trained one is (conditionRandomPrior). Unconditioned, the tiny prior's own output
// moves by 2e-4 to 8e-4 (relative to its largest value) between onnxruntime's optimization levels, which only
// reorder float operations, so no graph could be checked to 1e-5 on it. The directory is then converted again, with
// the same command make-tiny runs.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { convertModel } from '../src/compiler/convert.ts'
import { conditionRandomPrior, makeTiny } from '../src/compiler/make-tiny.ts'
import type { Family } from '../src/compiler/manifest.ts'

export interface TiledTiny {
  /** The model directory, with its tile graphs. */
  dir: string
  /** The official-format checkpoints it was converted from (`<stem>.safetensors` + `<stem>.json`). */
  checkpoints: string
}

export async function tiledTinyModel(family: Family, seed: number): Promise<TiledTiny> {
  const dir = mkdtempSync(join(tmpdir(), `tiled-${family}-`))
  await makeTiny({ family, outDir: dir, seed })
  const checkpoints = join(dir, 'checkpoints')
  if (family !== 'wuerstchen-v2') return { dir, checkpoints }
  conditionRandomPrior(join(checkpoints, 'stage_c.safetensors'))
  const out = mkdtempSync(join(tmpdir(), `tiled-${family}-prior-`))
  await convertModel({
    family,
    from: checkpoints,
    outDir: out,
    variant: 'tiny',
    randomWeights: true,
    tiling: true,
  })
  return { dir: out, checkpoints }
}
