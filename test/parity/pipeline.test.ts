// The whole pipeline (gpu-backend/src/pipeline) free-running against the reference runs (golden-runs.ts): the
// references' text states and noise injected, everything else (samplers, guidance, stage chaining,
// de-normalization, Stage A) is the real pipeline code.
// - Stable Cascade: sampling/pipeline.safetensors (CLIP -> Stage C -> Stage B -> Stage A), chain within 1e-3.
// - Würstchen v2: sampling_prior + sampling_decoder(_cfg): latents 1e-3 relative, decoded images 2e-3 absolute.
// Each run twice: with the sampling loops on the host (sample.ts) and as step graphs (sample-on-device.ts) on the
// CPU provider; the two agree within 1e-5 (the on-device loop's contract).
import { describe, expect, it } from 'vitest'
import { type Denoised, generate, type StepEvent } from '../../gpu-backend/src/pipeline/generate.ts'
import { loadModel } from '../../gpu-backend/src/pipeline/model.ts'
import { relErr } from './golden.ts'
import { type GoldenRun, SC_TEXT_SOURCES, scGoldenRun, v2GoldenRuns } from './golden-runs.ts'

const TOL_CHAIN = 1e-3
const TOL_V2_IMAGE_ABS = 2e-3
const TOL_DEVICE_LOOP = 1e-5

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)))
  return m
}

const report = (label: string, errs: Record<string, number>) =>
  console.log(
    `${label}:`,
    Object.entries(errs)
      .map(([k, v]) => `${k} ${v.toExponential(2)}`)
      .join(', '),
  )

/** The run with the host loop and with the device loop; the latter within 1e-5 of the former. */
async function runBothLoops(run: GoldenRun, onStep?: (e: StepEvent) => void): Promise<Denoised> {
  const dir = await run.dir
  const host = await generate(await loadModel(dir), run.request, {
    ...run.options,
    ...(onStep ? { onStep } : {}),
  })
  const device = await generate(await loadModel(dir, { loop: 'device' }), run.request, run.options)
  const errs = {
    prior: relErr(device.prior.data, host.prior.data),
    decoder: relErr(device.decoder.data, host.decoder.data),
    image: relErr(device.decoded.data, host.decoded.data),
  }
  report(`${run.label}, device loop vs host loop`, errs)
  for (const v of Object.values(errs)) expect(v).toBeLessThan(TOL_DEVICE_LOOP)
  return host
}

describe('Stable Cascade pipeline, free-running (sampling/pipeline.safetensors)', () => {
  for (const textSource of SC_TEXT_SOURCES)
    it(`Stage C -> Stage B -> Stage A within 1e-3 of the official chain, from ${textSource}`, async () => {
      const run = scGoldenRun(textSource)
      const progress: string[] = []
      const result = await runBothLoops(run, (e) => progress.push(`${e.stage}${e.step}/${e.steps}`))
      const errs = {
        stage_c: relErr(result.prior.data, run.reference.prior),
        stage_b: relErr(result.decoder.data, run.reference.decoder),
        image: relErr(result.decoded.data, run.reference.image),
      }
      report(run.label, errs)
      for (const v of Object.values(errs)) expect(v).toBeLessThan(TOL_CHAIN)
      expect(progress).toEqual([
        'text1/1',
        ...Array.from({ length: run.steps.c }, (_, i) => `c${i + 1}/${run.steps.c}`),
        ...Array.from({ length: run.steps.b }, (_, i) => `b${i + 1}/${run.steps.b}`),
        'a1/1',
      ])
    })
})

describe('Würstchen v2 pipeline, free-running (sampling_prior + sampling_decoder*)', () => {
  for (const run of v2GoldenRuns())
    it(run.label, async () => {
      const result = await runBothLoops(run)
      const errs = {
        prior: relErr(result.prior.data, run.reference.prior),
        decoder: relErr(result.decoder.data, run.reference.decoder),
      }
      const imageAbs = maxAbsDiff(result.decoded.data, run.reference.image)
      report(run.label, { ...errs, 'image (abs)': imageAbs })
      for (const v of Object.values(errs)) expect(v).toBeLessThan(TOL_CHAIN)
      expect(imageAbs).toBeLessThan(TOL_V2_IMAGE_ABS)
    })
})
