// Würstchen v2 prior (WuerstchenPrior) and decoder (WuerstchenDiffNeXt) against diffusers (golden
// wuerstchen-v2/): single forwards, the decoder's antialiased bicubic effnet resize, and every model call of
// the sampling runs, teacher-forced (stored inputs in, stored `model_out` compared).
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bicubicAAWeights, resizeBicubicAA } from '../../gpu-backend/src/compiler/blocks/bicubic-aa-resize.ts'
import { type Kwargs, readConfigFile } from '../../gpu-backend/src/compiler/models/config.ts'
import {
  buildWuerstchenDiffNeXt,
  wuerstchenDiffNeXtConfig,
} from '../../gpu-backend/src/compiler/models/wuerstchen-diffnext.ts'
import {
  buildWuerstchenPrior,
  wuerstchenPriorConfig,
} from '../../gpu-backend/src/compiler/models/wuerstchen-prior.ts'
import { Graph, type GraphOptions } from '../../gpu-backend/src/compiler/onnx/graph.ts'
import { toOriginalNames } from '../../gpu-backend/src/compiler/stages.ts'
import { SafetensorsFile } from '../../gpu-backend/src/compiler/weights/safetensors.ts'
import { StateDict } from '../../gpu-backend/src/compiler/weights/state-dict.ts'
import { createSession, floatTensor, ort } from '../../gpu-backend/src/runtime/session.ts'
import { readCase, relErr, V2_DIR } from './golden.ts'

// README "Suggested checks": model outputs (forward and teacher-forced sampling) 1e-4, resize 1e-5.
const TOL = 1e-4
const TOL_RESIZE = 1e-5

const VARIANTS: Record<string, GraphOptions> = {
  fused: { fused: true },
  'fused+mha': { fused: true, attention: 'mha' },
  plain: { fused: false },
}

type Layout = 'diffusers' | 'original'

interface Model {
  weights: string
  config: string
  build(sd: StateDict, kwargs: Kwargs, opts: GraphOptions): Graph
}

const MODELS = {
  prior: {
    weights: 'prior_weights.safetensors',
    config: 'configs/prior.json',
    build: (sd, kwargs, opts) => buildWuerstchenPrior(sd, wuerstchenPriorConfig(sd, kwargs), opts),
  },
  decoder: {
    weights: 'decoder_weights.safetensors',
    config: 'configs/decoder.json',
    build: (sd, kwargs, opts) => buildWuerstchenDiffNeXt(sd, wuerstchenDiffNeXtConfig(sd, kwargs), opts),
  },
} satisfies Record<string, Model>
type ModelId = keyof typeof MODELS

/**
 * The golden weights (diffusers layout) on the official names; `original` first packs them into an
 * original-format checkpoint (attention as nn.MultiheadAttention in_proj_*), as the W2 .pt files hold them.
 */
function checkpoint(model: ModelId, layout: Layout): StateDict {
  const sd = StateDict.fromSafetensors([SafetensorsFile.open(join(V2_DIR, MODELS[model].weights))])
  toOriginalNames(sd)
  if (layout === 'diffusers') return sd
  const packed = sd.keys().map((k) => [k, sd.take(k, sd.shapeOf(k)?.map(() => null) ?? [])] as const)
  expect(packed.some(([k]) => k.endsWith('.attention.attn.in_proj_weight'))).toBe(true)
  return new StateDict('original layout', new Map(packed))
}

const sessions = new Map<string, Promise<ort.InferenceSession>>()
function session(
  model: ModelId,
  variant: string,
  layout: Layout = 'diffusers',
): Promise<ort.InferenceSession> {
  const key = `${model}/${variant}/${layout}`
  let s = sessions.get(key)
  if (!s) {
    const kwargs = readConfigFile(join(V2_DIR, MODELS[model].config))
    const g = MODELS[model].build(checkpoint(model, layout), kwargs, VARIANTS[variant] ?? {})
    s = createSession(g.serialize())
    sessions.set(key, s)
  }
  return s
}

type Case = ReturnType<typeof readCase>
/** Runs the model on the case's tensors: graph input name -> tensor name in the case file. */
async function run(s: ort.InferenceSession, c: Case, feeds: Record<string, string>): Promise<Float32Array> {
  expect([...s.inputNames].sort()).toEqual(Object.keys(feeds).sort())
  const tensors = Object.entries(feeds).map(([input, name]) => {
    const t = c.get(name)
    return [input, floatTensor(t.data, t.shape)] as const
  })
  const out = await s.run(Object.fromEntries(tensors))
  return out.eps?.data as Float32Array
}

function check(label: string, got: Float32Array, ref: Float32Array, tol: number): void {
  const err = relErr(got, ref)
  console.log(`${label}: max rel err ${err.toExponential(2)}`)
  expect(err).toBeLessThan(tol)
}

const steps = (c: Case) => {
  const n: number[] = []
  while (c.has(`step${n.length}.model_x`)) n.push(n.length)
  return n
}

const PRIOR_FORWARD = { x: 'x', r: 'r', c: 'c' }
const DECODER_FORWARD = { x: 'x', r: 'r', effnet: 'effnet', clip: 'clip' }

describe('Würstchen v2 forward parity', () => {
  for (const variant of Object.keys(VARIANTS)) {
    it(`prior_forward (${variant})`, async () => {
      const c = readCase(join(V2_DIR, 'prior_forward.safetensors'))
      // The graph takes the raw text states: c_embed (the cond_mapper output) is computed inside.
      const got = await run(await session('prior', variant), c, PRIOR_FORWARD)
      check(`prior_forward ${variant}`, got, c.get('out').data, TOL)
    })
    it(`decoder_forward (${variant})`, async () => {
      const c = readCase(join(V2_DIR, 'decoder_forward.safetensors'))
      const got = await run(await session('decoder', variant), c, DECODER_FORWARD)
      check(`decoder_forward ${variant}`, got, c.get('out').data, TOL)
    })
  }
  it('original-format checkpoints (packed in_proj attention) give the same outputs', async () => {
    const prior = readCase(join(V2_DIR, 'prior_forward.safetensors'))
    check(
      'prior_forward original',
      await run(await session('prior', 'fused', 'original'), prior, PRIOR_FORWARD),
      prior.get('out').data,
      TOL,
    )
    const dec = readCase(join(V2_DIR, 'decoder_forward.safetensors'))
    check(
      'decoder_forward original',
      await run(await session('decoder', 'fused', 'original'), dec, DECODER_FORWARD),
      dec.get('out').data,
      TOL,
    )
  })
  it('reads every size but the heads (and the decoder patch) off the checkpoint', () => {
    const prior = checkpoint('prior', 'diffusers')
    const pk = readConfigFile(join(V2_DIR, MODELS.prior.config))
    expect(wuerstchenPriorConfig(prior, { nhead: pk.nhead })).toEqual(wuerstchenPriorConfig(prior, pk))
    const dec = checkpoint('decoder', 'diffusers')
    const dk = readConfigFile(join(V2_DIR, MODELS.decoder.config))
    const detected = wuerstchenDiffNeXtConfig(dec, { nhead: dk.nhead, patch_size: dk.patch_size })
    expect(detected).toEqual(wuerstchenDiffNeXtConfig(dec, dk))
  })
})

describe('antialiased bicubic resize (align_corners)', () => {
  const resizeGraph = () => {
    const g = new Graph('resize')
    const x = g.input('x', ['batch', 'channels', 'in_height', 'in_width'])
    const size = g.input('size', [2], 'int64')
    g.output(resizeBicubicAA(g, x, size), 'y', ['batch', 'channels', 'height', 'width'])
    return createSession(g.serialize())
  }
  const resize = async (
    s: ort.InferenceSession,
    x: { data: Float32Array; shape: number[] },
    hw: number[],
  ) => {
    const size = new ort.Tensor('int64', BigInt64Array.from(hw, BigInt), [2])
    const out = await s.run({ x: floatTensor(x.data, x.shape), size })
    return out.y?.data as Float32Array
  }
  /** The host matrices applied in float64: width first, then height. */
  const hostResize = (x: { data: Float32Array; shape: number[] }, [H, W]: number[]) => {
    const [B, C, h, w] = x.shape as [number, number, number, number]
    const [wh, ww] = [bicubicAAWeights(h, H as number), bicubicAAWeights(w, W as number)]
    const out = new Float32Array(B * C * (H as number) * (W as number))
    for (let bc = 0; bc < B * C; bc++)
      for (let i = 0; i < (H as number); i++)
        for (let j = 0; j < (W as number); j++) {
          let acc = 0
          for (let p = 0; p < h; p++) {
            let row = 0
            for (let q = 0; q < w; q++)
              row += (x.data[(bc * h + p) * w + q] as number) * (ww[j * w + q] as number)
            acc += (wh[i * h + p] as number) * row
          }
          out[(bc * (H as number) + i) * (W as number) + j] = acc
        }
    return out
  }

  it('every resize_bicubic_aa case, in the graph (one graph, dynamic sizes) and on the host', async () => {
    const c = readCase(join(V2_DIR, 'resize_bicubic_aa.safetensors'))
    const s = await resizeGraph()
    let n = 0
    for (; c.has(`case${n}.input`); n++) {
      const input = c.get(`case${n}.input`)
      const ref = c.get(`case${n}.output`)
      const hw = ref.shape.slice(2)
      const label = `case${n} ${input.shape.slice(2).join('x')} -> ${hw.join('x')}`
      check(`${label} graph`, await resize(s, input, hw), ref.data, TOL_RESIZE)
      check(`${label} host`, hostResize(input, hw), ref.data, TOL_RESIZE)
    }
    expect(n).toBeGreaterThan(0)
  })
  it("the decoder's effnet_resized levels", async () => {
    const c = readCase(join(V2_DIR, 'decoder_forward.safetensors'))
    const s = await resizeGraph()
    const levels = [...c.file.tensors.keys()].filter((k) => k.startsWith('effnet_resized.'))
    expect(levels.length).toBeGreaterThan(0)
    for (const k of levels) {
      const ref = c.get(k)
      check(k, await resize(s, c.get('effnet'), ref.shape.slice(2)), ref.data, TOL_RESIZE)
    }
  })
})

describe('Würstchen v2 sampling, teacher-forced', () => {
  const files = readdirSync(V2_DIR).filter((f) => /^sampling_(prior|decoder).*\.safetensors$/.test(f))
  it('finds the sampling runs', () => expect(files.length).toBeGreaterThan(0))
  for (const f of files) {
    const model: ModelId = f.startsWith('sampling_prior') ? 'prior' : 'decoder'
    for (const variant of Object.keys(VARIANTS))
      it(`${f} (${variant})`, async () => {
        const c = readCase(join(V2_DIR, f))
        const s = await session(model, variant)
        const all = steps(c)
        expect(all.length).toBeGreaterThan(0)
        for (const i of all) {
          const step = { x: `step${i}.model_x`, r: `step${i}.model_r` }
          const feeds =
            model === 'prior'
              ? { ...step, c: 'text_encoder_hidden_states' }
              : { ...step, effnet: 'effnet', clip: 'clip' }
          check(`${f} step${i} ${variant}`, await run(s, c, feeds), c.get(`step${i}.model_out`).data, TOL)
        }
      })
  }
})
