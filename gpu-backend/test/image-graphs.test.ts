// A model directory's image graphs at load: what it offers follows from its graphs (capabilitiesOf), and a
// ControlNet or a CLIP vision tower that does not fit its Stage C is a load error naming both graphs.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { makeTiny } from '../src/compiler/make-tiny.ts'
import { type Manifest, Manifest as ManifestSchema } from '../src/compiler/manifest.ts'
import { capabilitiesOf } from '../src/pipeline/image-graphs.ts'
import { loadModel } from '../src/pipeline/model.ts'

let dir: string
let manifest: Manifest
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'image-graphs-'))
  manifest = await makeTiny({ family: 'stable-cascade', outDir: dir, seed: 4 })
})

/** A copy of the model whose manifest is edited (the graph files stay as they are). */
function edited(edit: (m: Manifest) => void): string {
  const copy = mkdtempSync(join(tmpdir(), 'image-graphs-edit-'))
  cpSync(dir, copy, { recursive: true })
  const m = ManifestSchema.parse(JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8')))
  edit(m)
  writeFileSync(join(copy, 'manifest.json'), JSON.stringify(m))
  return copy
}

describe('image graphs of a model directory', () => {
  it('offers the modes its graphs allow; Stage C runs as its ControlNet graph', async () => {
    expect(capabilitiesOf(manifest)).toEqual({
      modes: ['text', 'variation', 'img2img', 'inpainting', 'outpainting', 'canny'],
      previews: true,
    })
    const model = await loadModel(dir)
    expect(model.stages.c.inputNames.filter((n) => n.startsWith('cnet_')).length).toBeGreaterThan(0)
    expect(Object.keys(model.image.controlnets).sort()).toEqual(['canny', 'inpainting'])
    const noCanny = edited((m) => {
      delete m.graphs.controlnet_canny
    })
    expect(
      capabilitiesOf(ManifestSchema.parse(JSON.parse(readFileSync(join(noCanny, 'manifest.json'), 'utf8')))),
    ).toEqual({
      modes: ['text', 'variation', 'img2img', 'inpainting', 'outpainting'],
      previews: true,
    })
  })

  it('refuses to load a ControlNet whose outputs have no input in Stage C', async () => {
    const misfit = edited((m) => {
      const g = m.graphs.controlnet_canny
      if (g) g.config = { ...g.config, projBlocks: [0, 2, 40] }
    })
    await expect(loadModel(misfit)).rejects.toThrow(
      /controlnet_canny\.onnx does not fit this model's Stage C: .*ResBlock calls 40 .*stage_c_cnet\.onnx/,
    )
  })
})
