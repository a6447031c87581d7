// Whole generations on WebGPU with the sampling loops on the device (model graph -> step graph, latents left on the
// device): the golden reference chains of both families (golden-runs.ts) within the parity suite's tolerances, and
// a request through each family's own tokenizer and CLIP (make-tiny models).
import { describe, expect, it } from 'vitest'
import { type GenerateRequest, generate } from '../../gpu-backend/src/pipeline/generate.ts'
import { loadModel } from '../../gpu-backend/src/pipeline/model.ts'
import { relErr } from '../parity/golden.ts'
import { scGoldenRun, v2GoldenRuns } from '../parity/golden-runs.ts'
import { FAMILIES, tinyModel } from './tiny-models.ts'

// The parity suite's tolerances for a whole chain (pipeline.test.ts).
const TOL_CHAIN = 1e-3
const TOL_V2_IMAGE_ABS = 2e-3

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)))
  return m
}

describe('the official chains on WebGPU', () => {
  const [firstV2] = v2GoldenRuns()
  it.each([scGoldenRun('prompts through our tokenizer and CLIP'), ...(firstV2 ? [firstV2] : [])])(
    '$label',
    async (run) => {
      const model = await loadModel(await run.dir, { provider: 'webgpu' })
      expect(model.provider.provider).toBe('webgpu')
      expect(model.device, 'the device loop is the default on a GPU provider').toBeDefined()
      const got = await generate(model, run.request, run.options)
      const errs = {
        prior: relErr(got.prior.data, run.reference.prior),
        decoder: relErr(got.decoder.data, run.reference.decoder),
      }
      const image = run.label.startsWith('v2')
        ? maxAbsDiff(got.decoded.data, run.reference.image)
        : relErr(got.decoded.data, run.reference.image)
      console.log(`${run.label} on WebGPU:`, errs, { image })
      for (const [k, v] of Object.entries(errs)) expect(v, k).toBeLessThan(TOL_CHAIN)
      expect(image).toBeLessThan(run.label.startsWith('v2') ? TOL_V2_IMAGE_ABS : TOL_CHAIN)
    },
  )
})

describe.each(FAMILIES)('%s (make-tiny) on WebGPU', (family) => {
  it('runs a request from prompts to images, every phase reported, every pixel finite', async () => {
    const request: GenerateRequest = {
      width: 128,
      height: 128,
      images: [
        { seed: 1, prompt: 'a red fox in the snow', negativePrompt: '' },
        { seed: 2, prompt: 'a lighthouse at dusk', negativePrompt: 'fog' },
      ],
      priorSteps: 2,
      priorGuidance: 4,
      decoderSteps: 2,
      decoderGuidance: 1.1,
    }
    const model = await loadModel(await tinyModel(family), { provider: 'webgpu' })
    const steps: string[] = []
    const got = await generate(
      model,
      { ...request, images: request.images.map((i) => ({ ...i, format: 'png' as const })) },
      { onStep: (e) => steps.push(`${e.stage}${e.step}`) },
    )
    expect(got.decoded.dims).toEqual([2, 3, 128, 128])
    expect(got.decoded.data.every(Number.isFinite)).toBe(true)
    expect(got.encoded.map((b) => b?.subarray(1, 4).toString())).toEqual(['80,78,71', '80,78,71'])
    expect(steps).toEqual(['text1', 'c1', 'c2', 'b1', 'b2', 'a1', 'encode1', 'encode2'])
  })
})
