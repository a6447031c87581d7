// `cascade convert --from … --lora …`: LoRA files merged into a whole model. The manifest lists each one, and the
// weights version (every cache key's model part) changes with each file's bytes and strength.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { convertModel, sha256File } from '../src/compiler/convert.ts'
import { makeTiny } from '../src/compiler/make-tiny.ts'
import { Manifest } from '../src/compiler/manifest.ts'
import { writeSafetensors } from '../src/compiler/weights/safetensors.ts'

const run = promisify(execFile)
const root = join(import.meta.dirname, '..', '..')
const loras = join(root, 'test', 'golden', 'image', 'weights')
const KOHYA = join(loras, 'lora_kohya_tiny.safetensors')
const OFFICIAL = join(loras, 'lora_official_tiny.safetensors')

let from: string
let base: Manifest

const fileHash = (m: Manifest, path: string) => m.files.find((f) => f.path === path)?.sha256
const convert = (...specs: [string, number][]) =>
  convertModel({
    family: 'stable-cascade',
    from,
    variant: 'tiny',
    outDir: mkdtempSync(join(tmpdir(), 'lora-model-')),
    loras: specs.map(([path, strength]) => ({ path, strength })),
  })

describe('convert --from with --lora', () => {
  beforeAll(async () => {
    // make-tiny's Stage C has the golden tiny architecture, so the golden LoRA files fit it.
    const dir = mkdtempSync(join(tmpdir(), 'lora-base-'))
    base = await makeTiny({ family: 'stable-cascade', outDir: dir, seed: 5 })
    from = join(dir, 'checkpoints')
  })

  it('lists each LoRA in the manifest and versions the weights by file and strength', async () => {
    const one = await convert([KOHYA, 1])
    expect(one.loras).toEqual([
      { file: 'lora_kohya_tiny.safetensors', sha256: await sha256File(KOHYA), strength: 1, format: 'kohya' },
    ])
    const half = await convert([KOHYA, 0.5])
    const official = await convert([OFFICIAL, 1])
    const versions = new Set([base, one, half, official].map((m) => m.weights_version))
    expect(versions.size).toBe(4)
    // Only Stage C changed: the text encoder, Stage B and A graphs are the same bytes.
    expect(fileHash(one, 'stage_c.onnx.data')).not.toBe(fileHash(base, 'stage_c.onnx.data'))
    for (const f of ['text_encoder.onnx.data', 'stage_b.onnx.data', 'stage_a_decoder.onnx.data'])
      expect(fileHash(one, f)).toBe(fileHash(base, f))
  })

  it('merges a text-encoder LoRA into the text encoder graph', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lora-te-')), 'te.safetensors')
    const f32 = (shape: number[], v: number) => ({
      dtype: 'F32' as const,
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v),
    })
    writeSafetensors(path, [
      ['lora_prior_te_text_model_encoder_layers_1_mlp_fc2.lora_down.weight', f32([1, 256], 0.01)],
      ['lora_prior_te_text_model_encoder_layers_1_mlp_fc2.lora_up.weight', f32([64, 1], 0.01)],
    ])
    const m = await convert([path, 1])
    expect(fileHash(m, 'text_encoder.onnx.data')).not.toBe(fileHash(base, 'text_encoder.onnx.data'))
    expect(fileHash(m, 'stage_c.onnx.data')).toBe(fileHash(base, 'stage_c.onnx.data'))
  })

  it('the CLI takes --lora more than once and refuses a file that is no LoRA, writing nothing', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'lora-cli-')), 'model')
    const bin = join(root, 'gpu-backend', 'bin', 'cascade.mjs')
    const args = ['convert', '--family', 'stable-cascade', '--from', from, '--variant', 'tiny', '--out', out]
    const { stdout } = await run(process.execPath, [
      bin,
      ...args,
      '--lora',
      `${KOHYA}:0.5`,
      '--lora',
      OFFICIAL,
    ])
    expect(stdout).toContain('merged LoRA lora_kohya_tiny.safetensors (kohya) at strength 0.5')
    expect(stdout).toContain('merged LoRA lora_official_tiny.safetensors (official) at strength 1')
    const m = Manifest.parse(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')))
    expect(m.loras?.map((l) => [l.file, l.strength])).toEqual([
      ['lora_kohya_tiny.safetensors', 0.5],
      ['lora_official_tiny.safetensors', 1],
    ])
    const bad = join(mkdtempSync(join(tmpdir(), 'lora-cli-')), 'model')
    const err = await run(process.execPath, [
      bin,
      ...args.slice(0, -1),
      bad,
      '--lora',
      join(root, 'test', 'golden', 'weights', 'stage_c_tiny.safetensors'),
    ]).catch((e: { code: number; stderr: string }) => e)
    expect(err).toMatchObject({ code: 1 })
    expect((err as { stderr: string }).stderr).toMatch(/is not a LoRA file this converter reads/)
    expect(existsSync(bad)).toBe(false)
  })
})
