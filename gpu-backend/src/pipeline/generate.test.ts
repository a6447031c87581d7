// The pipeline on a tiny Stable Cascade model (make-tiny, random weights) with stand-in text states: encoded
// images, determinism per seed whatever the batch, abort between steps, validation before the first step.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { beforeAll, describe, expect, it } from 'vitest'
import { relErr } from '../../../test/parity/golden.ts'
import { convertModel } from '../compiler/convert.ts'
import { makeTiny } from '../compiler/make-tiny.ts'
import {
  type GenerateRequest,
  generate,
  type ImageSpec,
  PipelineInputError,
  type StepEvent,
} from './generate.ts'
import { type LoadedModel, loadModel } from './model.ts'
import { philoxNormals } from './noise.ts'
import type { TextEncoders } from './text.ts'

/** Deterministic stand-in text states: rows of N(0, 1) keyed by the prompt's length and first code unit. */
const fakeText: TextEncoders = {
  async encode(_stage, prompts) {
    const seed = (p: string) => p.length * 65_537 + (p.charCodeAt(0) || 0)
    const stack = (n: number) => {
      const data = new Float32Array(prompts.length * n)
      prompts.forEach((p, i) => {
        data.set(philoxNormals(seed(p), 'c', 9, n), i * n)
      })
      return data
    }
    return {
      hidden_pre_norm: { data: stack(77 * 64), dims: [prompts.length, 77, 64] },
      text_embeds: { data: stack(32), dims: [prompts.length, 32] },
    }
  },
}

const base: GenerateRequest = {
  width: 256,
  height: 256,
  images: [{ seed: 1, prompt: 'a cat', negativePrompt: '', format: 'png' }],
  priorSteps: 3,
  priorGuidance: 4,
  decoderSteps: 2,
  decoderGuidance: 1.1,
}

let model: LoadedModel
let dir: string
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pipeline-sc-'))
  await makeTiny({ family: 'stable-cascade', outDir: dir, seed: 5 })
  model = await loadModel(dir)
})

describe('generate', () => {
  it('returns encoded images of the requested size, with progress for every phase', async () => {
    const steps: StepEvent[] = []
    const r = await generate(
      model,
      { ...base, images: [{ seed: 1, prompt: 'a cat', negativePrompt: '', format: 'webp' }] },
      { text: fakeText, onStep: (e) => steps.push(e) },
    )
    const meta = await sharp(r.encoded[0] as Uint8Array).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 256, 256])
    expect(steps.map((s) => `${s.stage}${s.step}/${s.steps}`)).toEqual([
      'text1/1',
      'c1/3',
      'c2/3',
      'c3/3',
      'b1/2',
      'b2/2',
      'a1/1',
      'encode1/1',
    ])
    expect(Object.values(r.timings).every((ms) => ms >= 0)).toBe(true)
  })

  it('encodes prompts with the tokenizer and text encoder of the model directory', async () => {
    const r = await generate(model, base)
    expect((await sharp(r.encoded[0] as Uint8Array).metadata()).format).toBe('png')
    const other = await generate(model, {
      ...base,
      images: [{ ...base.images[0], prompt: 'a dog' } as ImageSpec],
    })
    expect(relErr(other.prior.data, r.prior.data)).toBeGreaterThan(1e-3)
  })

  it('gives an image that depends on its seed only, not on the batch around it', async () => {
    const alone = await generate(model, base, { text: fakeText })
    const again = await generate(model, base, { text: fakeText })
    expect(again.encoded[0]).toEqual(alone.encoded[0])
    const other = { seed: 2, prompt: 'a dog', negativePrompt: 'blurry', format: 'jpeg' as const }
    // Each job its own group: CFG rescale statistics stay per image.
    const batched = await generate(
      model,
      { ...base, images: [other, ...base.images], groups: [1, 1] },
      { text: fakeText },
    )
    const per = alone.decoded.data.length
    expect(relErr(batched.decoded.data.subarray(per), alone.decoded.data)).toBeLessThan(1e-5)
    expect(relErr(batched.decoded.data.subarray(0, per), alone.decoded.data)).toBeGreaterThan(1e-2)
  })

  it('stops between model calls when aborted', async () => {
    const ctrl = new AbortController()
    const seen: string[] = []
    const run = generate(model, base, {
      text: fakeText,
      signal: ctrl.signal,
      onStep: (e) => {
        seen.push(`${e.stage}${e.step}`)
        if (e.stage === 'c' && e.step === 1) ctrl.abort(new Error('client went away'))
      },
    })
    await expect(run).rejects.toThrow('client went away')
    expect(seen).toEqual(['text1', 'c1'])
  })

  it('runs float16 model directories (float16 graph I/O) close to float32', async () => {
    const dir16 = mkdtempSync(join(tmpdir(), 'pipeline-sc16-'))
    await convertModel({
      family: 'stable-cascade',
      from: join(dir, 'checkpoints'),
      outDir: dir16,
      dtype: 'fp16',
    })
    const model16 = await loadModel(dir16)
    const short = { ...base, priorSteps: 1, decoderSteps: 1 }
    const [r16, r32] = [await generate(model16, short), await generate(model, short)]
    expect(r16.decoded.data.every(Number.isFinite)).toBe(true)
    expect(relErr(r16.decoded.data, r32.decoded.data)).toBeLessThan(5e-2)
  })

  it('validates everything before the first step', async () => {
    const seen: StepEvent[] = []
    const bad = { ...base, priorSteps: 0, decoderGuidance: Number.NaN, groups: [2] }
    await expect(generate(model, bad, { text: fakeText, onStep: (e) => seen.push(e) })).rejects.toThrow(
      PipelineInputError,
    )
    expect(seen).toEqual([])
  })

  it('validates image inputs before the first step: strength with the init images, graphs the model has', async () => {
    const image = { width: 32, height: 32, rgb8: new Uint8Array(32 * 32 * 3) }
    const seen: StepEvent[] = []
    const onStep = (e: StepEvent) => seen.push(e)
    const withInputs = (inputs: ImageSpec['inputs'], extra: Partial<GenerateRequest> = {}) => ({
      ...base,
      ...extra,
      images: [{ ...(base.images[0] as ImageSpec), inputs }],
    })
    for (const req of [
      withInputs({ init: image }), // an init image without a strength
      withInputs({ variation: image }, { strength: 0.5 }), // a strength without an init image
      withInputs({ init: image }, { strength: 0.1 }), // int(3 · 0.1) = 0 steps
      withInputs({ init: image }, { strength: 1.5 }),
    ])
      await expect(generate(model, req, { text: fakeText, onStep })).rejects.toThrow(PipelineInputError)
    // Würstchen v2 has no image graphs: a clear error naming what is missing, before any step.
    const v2 = mkdtempSync(join(tmpdir(), 'pipeline-v2-'))
    await makeTiny({ family: 'wuerstchen-v2', outDir: v2, seed: 5 })
    const v2Model = await loadModel(v2)
    await expect(
      generate(
        v2Model,
        {
          ...withInputs({ variation: image }),
          images: [{ seed: 1, prompt: 'a', negativePrompt: '', inputs: { variation: image } }],
        },
        { onStep },
      ),
    ).rejects.toThrow(/wuerstchen-v2: the model has no CLIP vision/)
    expect(seen).toEqual([])
  })
})
