// `convert --from` on Stable Cascade's image checkpoints as make-tiny writes them, under the released file names
// and layouts (effnet_encoder.safetensors, previewer.safetensors, image_encoder/, controlnet/<type>.safetensors):
// found and recognised without configs (ControlNets bring their injection points), listed in manifest.json, every
// graph running with the contract's inputs and outputs; a wrong or truncated file is an error naming it.
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { convertModel, convertStage } from '../src/compiler/convert.ts'
import { makeTiny } from '../src/compiler/make-tiny.ts'
import { TINY_IMAGE_CONFIGS } from '../src/compiler/make-tiny-image.ts'
import type { Manifest } from '../src/compiler/manifest.ts'
import { createSession, floatTensor, type ort } from '../src/runtime/session.ts'

let tiny: string
let manifest: Manifest

beforeAll(async () => {
  tiny = mkdtempSync(join(tmpdir(), 'tiny-sc-image-'))
  manifest = await makeTiny({ family: 'stable-cascade', outDir: tiny, seed: 11 })
})

const random = (dims: number[], scale = 1) =>
  floatTensor(
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => scale * Math.sin(i * 12.9898)),
    dims,
  )
const zeros = (dims: number[]) => floatTensor(new Float32Array(dims.reduce((a, b) => a * b, 1)), dims)

async function run(graph: string, feeds: Record<string, ort.Tensor>) {
  const s = await createSession(join(tiny, `${graph}.onnx`))
  return { session: s, out: await s.run(feeds) }
}

/** A copy of make-tiny's source folder to break. */
function sourceCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sc-src-'))
  cpSync(join(tiny, 'checkpoints'), dir, { recursive: true })
  return dir
}

describe('image checkpoints under the released names', () => {
  it('make-tiny writes them as released: no config beside the effnet encoder and the previewer', () => {
    const src = join(tiny, 'checkpoints')
    for (const f of [
      'effnet_encoder.safetensors',
      'previewer.safetensors',
      'image_encoder/model.safetensors',
      'image_encoder/config.json',
      'controlnet/canny.safetensors',
      'controlnet/inpainting.safetensors',
      'controlnet/super_resolution.safetensors',
    ])
      expect(existsSync(join(src, f)), f).toBe(true)
    expect(existsSync(join(src, 'effnet_encoder.json'))).toBe(false)
    expect(existsSync(join(src, 'previewer.json'))).toBe(false)
  })

  it('the manifest lists every image graph with its files and sha256', () => {
    const paths = manifest.files.map((f) => f.path)
    for (const g of ['effnet_encoder', 'clip_vision', 'previewer', 'stage_c_cnet'])
      expect(manifest.graphs[g]?.file).toBe(`${g}.onnx`)
    for (const type of ['canny', 'inpainting', 'super_resolution']) {
      expect(paths).toContain(`controlnet_${type}.onnx`)
      expect(paths).toContain(`controlnet_${type}.json`)
      expect(manifest.graphs[`controlnet_${type}`]?.config.type).toBe(type)
    }
    // The ControlNet variant of Stage C reads stage_c.onnx's weights: no data file of its own.
    expect(paths).toContain('stage_c_cnet.onnx')
    expect(paths).not.toContain('stage_c_cnet.onnx.data')
  })

  it('effnet_encoder: image (B, 3, H, W) -> latent (B, 16, H/32, W/32)', async () => {
    const { out } = await run('effnet_encoder', { image: random([2, 3, 64, 96], 0.5) })
    expect((out.latent as ort.Tensor).dims).toEqual([2, 16, 2, 3])
  })

  it('previewer: x (B, 16, h, w) -> image (B, 3, 8h, 8w)', async () => {
    const { out } = await run('previewer', { x: random([1, 16, 3, 2]) })
    expect((out.image as ort.Tensor).dims).toEqual([1, 3, 24, 16])
  })

  it('clip_vision: image (B, 3, S, S) -> image_embeds (B, P) that Stage C takes as N image tokens', async () => {
    const { session, out } = await run('clip_vision', { image: random([2, 3, 28, 28], 0.5) })
    expect([...session.outputNames].sort()).toEqual(['image_embeds', 'last_hidden_state'])
    const embeds = out.image_embeds as ort.Tensor
    expect(embeds.dims).toEqual([2, 24])
    // Two images for one generation: clip_img (1, 2, 24).
    const stageC = await createSession(join(tiny, 'stage_c.onnx'))
    const res = await stageC.run({
      x: random([1, 16, 3, 3]),
      r: floatTensor(Float32Array.of(0.5), [1]),
      clip_text: random([1, 77, 64]),
      clip_text_pooled: random([1, 1, 32]),
      clip_img: floatTensor(embeds.data as Float32Array, [1, 2, 24]),
    })
    expect((res.eps as ort.Tensor).dims).toEqual([1, 16, 3, 3])
  })

  it('controlnets: hint -> cnet_<k> at the hint stride, as their json says', async () => {
    for (const type of ['canny', 'inpainting', 'super_resolution']) {
      const json = JSON.parse(readFileSync(join(tiny, `controlnet_${type}.json`), 'utf8'))
      const side = 3 * json.hint_stride
      const { session, out } = await run(`controlnet_${type}`, {
        hint: random([1, json.c_in, side, side], 0.5),
      })
      expect(session.outputNames).toEqual(json.proj_blocks.map((k: number) => `cnet_${k}`))
      for (const name of session.outputNames)
        expect((out[name] as ort.Tensor).dims, `${type} ${name}`).toEqual([1, json.c_proj, 3, 3])
    }
  })

  it('stage_c_cnet: inputs for every ControlNet block; zero inputs give stage_c exactly, others do not', async () => {
    const blocks = manifest.graphs.stage_c_cnet?.config.controlnetBlocks as number[]
    const used = ['canny', 'inpainting', 'super_resolution'].flatMap(
      (t) => manifest.graphs[`controlnet_${t}`]?.config.projBlocks as number[],
    )
    expect(blocks).toEqual([...new Set(used)].sort((a, b) => a - b))
    const feeds = {
      x: random([1, 16, 4, 3]),
      r: floatTensor(Float32Array.of(0.7), [1]),
      clip_text: random([1, 77, 64]),
      clip_text_pooled: random([1, 1, 32]),
      clip_img: random([1, 1, 24]),
    }
    const plain = (await run('stage_c', feeds)).out.eps as ort.Tensor
    const cnet = (k: number, t: (d: number[]) => ort.Tensor) => [`cnet_${k}`, t([1, 64, 2, 2])]
    const withZeros = await run('stage_c_cnet', {
      ...feeds,
      ...Object.fromEntries(blocks.map((k) => cnet(k, zeros))),
    })
    expect(withZeros.session.inputNames.filter((n) => n.startsWith('cnet_'))).toEqual(
      blocks.map((k) => `cnet_${k}`),
    )
    expect(Array.from((withZeros.out.eps as ort.Tensor).data as Float32Array)).toEqual(
      Array.from(plain.data as Float32Array),
    )
    const withHint = await run('stage_c_cnet', {
      ...feeds,
      ...Object.fromEntries(blocks.map((k) => cnet(k, (d) => random(d, 0.3)))),
    })
    expect((withHint.out.eps as ort.Tensor).data).not.toEqual(plain.data)
  })

  it('the architecture is read off the checkpoint alone: the config make-tiny built it from comes back', () => {
    const out = mkdtempSync(join(tmpdir(), 'no-config-'))
    const read = (stage: 'effnet' | 'previewer', file: string) =>
      convertStage({
        family: 'stable-cascade',
        stage,
        weights: [join(tiny, 'checkpoints', file)],
        outDir: out,
      })[0]?.config
    const effnet = TINY_IMAGE_CONFIGS.effnet as Record<string, unknown>
    expect(read('effnet', 'effnet_encoder.safetensors')).toEqual({
      cIn: 3,
      stemPad: 1,
      stages: effnet.inverted_residual_setting,
      lastChannel: effnet.last_channel,
      cLatent: effnet.c_latent,
    })
    const previewer = TINY_IMAGE_CONFIGS.previewer as Record<string, unknown>
    expect(read('previewer', 'previewer.safetensors')).toEqual({
      cIn: previewer.c_in,
      cHidden: previewer.c_hidden,
      cOut: previewer.c_out,
    })
  })
})

describe('wrong and truncated image checkpoints', () => {
  const convert = (from: string, warn?: (m: string) => void) =>
    convertModel({
      family: 'stable-cascade',
      from,
      outDir: mkdtempSync(join(tmpdir(), 'sc-out-')),
      ...(warn ? { warn } : {}),
    })

  it('a truncated ControlNet is an error naming the file', async () => {
    const src = sourceCopy()
    const p = join(src, 'controlnet', 'canny.safetensors')
    const bytes = readFileSync(p)
    writeFileSync(p, bytes.subarray(0, bytes.length - 64))
    await expect(convert(src)).rejects.toThrow(
      /controlnet\/canny\.safetensors: tensor \S+: data ends at byte/,
    )
  })

  it('another model under the effnet encoder name is an error naming the file', async () => {
    const src = sourceCopy()
    copyFileSync(join(src, 'previewer.safetensors'), join(src, 'effnet_encoder.safetensors'))
    await expect(convert(src)).rejects.toThrow(/effnet_encoder\.safetensors: not an EfficientNet encoder/)
  })

  it("a ControlNet of another type under a type's name is an error naming the file", async () => {
    const src = sourceCopy()
    copyFileSync(
      join(src, 'controlnet', 'inpainting.safetensors'),
      join(src, 'controlnet', 'canny.safetensors'),
    )
    copyFileSync(join(src, 'controlnet', 'inpainting.json'), join(src, 'controlnet', 'canny.json'))
    await expect(convert(src)).rejects.toThrow(/controlnet\/canny\.safetensors: an inpainting ControlNet/)
  })

  it('a ControlNet that does not fit Stage C is left out with a warning, the rest converts', async () => {
    const src = sourceCopy()
    const cfg = join(src, 'controlnet', 'canny.json')
    const json = JSON.parse(readFileSync(cfg, 'utf8'))
    json.kwargs.proj_blocks = [0, 2, 50]
    writeFileSync(cfg, JSON.stringify(json))
    const warnings: string[] = []
    const m = await convert(src, (w) => warnings.push(w))
    expect(warnings).toEqual([expect.stringMatching(/controlnet\/canny\.safetensors not converted.*6 calls/)])
    expect(m.graphs.controlnet_canny).toBeUndefined()
    expect(m.graphs.controlnet_inpainting).toBeDefined()
    expect(m.graphs.stage_c_cnet?.config.controlnetBlocks).not.toContain(50)
  })
})
