// Tiny models for the tiling tests: make-tiny's model directory (it converts with --tiling), except that Würstchen
// v2's prior is conditioned as a trained one is. That prior ends in ε = (x − a)/(|1 − b| + 1e-5). With random
// weights b crosses 1 at some positions, where the division amplifies float rounding: the tiny prior's own output
// moves by 2e-4 to 8e-4 (relative to its largest value) between onnxruntime's optimization levels, which only
// reorder float operations, so no graph could be checked to 1e-5 on it. A trained prior keeps |1 − b| away from 0;
// so does the tiny one once b's bias is lowered by B_SHIFT. The directory is then converted again, with the same
// command make-tiny runs.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { convertModel } from '../src/compiler/convert.ts'
import { makeTiny } from '../src/compiler/make-tiny.ts'
import type { Family } from '../src/compiler/manifest.ts'
import { SafetensorsFile, type TensorToWrite, writeSafetensors } from '../src/compiler/weights/safetensors.ts'

const B_SHIFT = 4

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
  lowerPriorB(join(checkpoints, 'stage_c.safetensors'))
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

/** The prior's `out.1.bias`: its second half (the b channels) lowered by B_SHIFT, in place. */
function lowerPriorB(path: string): void {
  const ckpt = SafetensorsFile.open(path)
  const tensors = [...ckpt.tensors.values()].map(({ name, shape }): [string, TensorToWrite] => {
    const data = ckpt.readFloat32(name)
    if (name === 'out.1.bias')
      for (let i = data.length / 2; i < data.length; i++) data[i] = (data[i] as number) - B_SHIFT
    return [name, { dtype: 'F32', shape, data }]
  })
  ckpt.close()
  writeSafetensors(path, tensors)
}
