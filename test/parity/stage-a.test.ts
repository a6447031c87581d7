// Stage A against the official forward: SC StageA decode/encode (golden cases/stage_a_*) and the v2 Paella
// VQGAN (wuerstchen-v2/vqgan_*, sampling_decoder*), each graph fused and plain.
import { readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { Family } from '../../gpu-backend/src/compiler/manifest.ts'
import { type Kwargs, readConfigFile } from '../../gpu-backend/src/compiler/models/config.ts'
import {
  buildStageADecoder,
  buildStageAEncoder,
  type StageAConfig,
  stageAConfig,
} from '../../gpu-backend/src/compiler/models/stage-a.ts'
import type { Graph } from '../../gpu-backend/src/compiler/onnx/graph.ts'
import { SafetensorsFile } from '../../gpu-backend/src/compiler/weights/safetensors.ts'
import { StateDict } from '../../gpu-backend/src/compiler/weights/state-dict.ts'
import { createSession, floatTensor } from '../../gpu-backend/src/runtime/session.ts'
import { type GoldenTensor, goldenPath, readCase, relErr, V2_DIR } from './golden.ts'

// Both READMEs: Stage A / VQGAN decode and encode within 1e-5 relative.
const TOL = 1e-5

interface Model {
  family: Family
  weights: string
  config: string
}
const SC: Model = {
  family: 'stable-cascade',
  weights: goldenPath('weights/stage_a_tiny.safetensors'),
  config: goldenPath('configs/stage_a_tiny.json'),
}
const V2: Model = {
  family: 'wuerstchen-v2',
  weights: `${V2_DIR}/vqgan_weights.safetensors`,
  config: `${V2_DIR}/configs/vqgan.json`,
}

type Build = (sd: StateDict, cfg: StageAConfig, opts: { fused: boolean }) => Graph

function load(m: Model, override: Kwargs = {}) {
  const sd = StateDict.fromSafetensors([SafetensorsFile.open(m.weights)])
  return { sd, cfg: stageAConfig(sd, m.family, { ...readConfigFile(m.config), ...override }) }
}

async function run(
  m: Model,
  build: Build,
  fused: boolean,
  input: GoldenTensor,
  override?: Kwargs,
): Promise<Float32Array> {
  const { sd, cfg } = load(m, override)
  const g = build(sd, cfg, { fused })
  const session = await createSession(g.serialize())
  const [inName] = session.inputNames as [string]
  const out = await session.run({ [inName]: floatTensor(input.data, input.shape) })
  return out[session.outputNames[0] as string]?.data as Float32Array
}

const scaled = (t: GoldenTensor, f: number): GoldenTensor => ({
  shape: t.shape,
  data: t.data.map((v) => v * f),
})
const modes = [true, false]
const label = (fused: boolean) => (fused ? 'fused' : 'plain')

function check(name: string, fused: boolean, got: Float32Array, ref: ArrayLike<number>) {
  const err = relErr(got, ref)
  console.log(`${name} ${label(fused)}: max rel err ${err.toExponential(2)}`)
  expect(err).toBeLessThan(TOL)
}

describe('Stable Cascade StageA parity', () => {
  const cases = readdirSync(goldenPath('cases')).filter((f) => f.startsWith('stage_a_'))
  it('finds golden cases', () =>
    expect(cases.filter((f) => f.startsWith('stage_a_decode')).length).toBeGreaterThan(0))
  for (const f of cases)
    for (const fused of modes) {
      const c = readCase(goldenPath('cases', f))
      // decode(latent) multiplies by the scale itself, as our graph does: the recorded latent goes in as is.
      if (c.has('output'))
        it(`${f} decode (${label(fused)})`, async () => {
          check(f, fused, await run(SC, buildStageADecoder, fused, c.get('latent')), c.get('output').data)
        })
      if (c.has('image'))
        it(`${f} encode (${label(fused)})`, async () => {
          check(
            `${f} latent`,
            fused,
            await run(SC, buildStageAEncoder, fused, c.get('image')),
            c.get('latent').data,
          )
        })
      if (c.has('decoded_q'))
        it(`${f} decode of q_latent (${label(fused)})`, async () => {
          check(
            `${f} decoded_q`,
            fused,
            await run(SC, buildStageADecoder, fused, c.get('q_latent')),
            c.get('decoded_q').data,
          )
        })
    }
})

describe('Würstchen v2 Paella VQGAN parity', () => {
  const { cfg } = load(V2)
  const v2Files = readdirSync(V2_DIR)
  const samplingRuns = v2Files.filter(
    (f) => f.startsWith('sampling_decoder') && readCase(`${V2_DIR}/${f}`).has('vqgan_decoded'),
  )
  it('finds golden cases', () => expect(samplingRuns.length).toBeGreaterThan(0))
  for (const fused of modes) {
    // The real contract: the pipeline's final latents in, vqgan.decode(scale · latents) out.
    for (const f of samplingRuns)
      it(`${f} final_latents -> vqgan_decoded (${label(fused)})`, async () => {
        const c = readCase(`${V2_DIR}/${f}`)
        check(
          f,
          fused,
          await run(V2, buildStageADecoder, fused, c.get('final_latents')),
          c.get('vqgan_decoded').data,
        )
      })
    // vqgan_decode records vqgan.decode(latents), which does not scale: build with scale_factor 1.
    it(`vqgan_decode (${label(fused)})`, async () => {
      const c = readCase(`${V2_DIR}/vqgan_decode.safetensors`)
      const got = await run(V2, buildStageADecoder, fused, c.get('latents'), { scale_factor: 1 })
      check('vqgan_decode', fused, got, c.get('decoded').data)
    })
    // vqgan.encode returns the BatchNorm output; our latent is in Stage B's space, that divided by the scale.
    it(`vqgan_encode (${label(fused)})`, async () => {
      const c = readCase(`${V2_DIR}/vqgan_encode.safetensors`)
      const got = await run(V2, buildStageAEncoder, fused, c.get('image'))
      check('vqgan_encode', fused, got, scaled(c.get('latents'), 1 / cfg.scaleFactor).data)
    })
  }
})

// Fused graphs run the ResBlock MLPs and the upsampler on bands of rows (1/8 of the height each, one row of
// halo for the upsampler): at any height, even one with fewer rows than bands, they agree with the plain graph.
describe('Stage A decoder in row bands', () => {
  for (const height of [1, 3, 9, 21])
    it(`matches the plain graph at latent height ${height}`, async () => {
      const { cfg } = load(SC)
      const n = 2 * cfg.cLatent * height * 5
      const latent = {
        shape: [2, cfg.cLatent, height, 5],
        data: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)),
      }
      const plain = await run(SC, buildStageADecoder, false, latent)
      const fused = await run(SC, buildStageADecoder, true, latent)
      expect(fused.length).toBe(plain.length)
      check(`height ${height}`, true, fused, plain)
    })
})
