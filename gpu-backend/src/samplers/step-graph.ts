// A sampler's step as a small ONNX model, so a denoising step on a GPU is model graph -> step graph with the
// latents never leaving the device. Inputs: the model's `pred` (the [cond; uncond] batch when guided), the state
// `x`, this step's `noise` and `coef` (the sampler's `coefficients`), and for guidance `weight`, `from_end` and
// `groups` (cfg.ts `guidanceFeeds`). Outputs: `x_next`, the stage `output` were this the last step, and
// `x_model`, the next model call's `x` (duplicated for guidance, in the model's input type).
import { Graph, type Value } from '../compiler/onnx/graph.ts'
import { chunk, concat } from '../compiler/onnx/ops.ts'
import type { ElemType } from '../compiler/onnx/proto.ts'
import type { Sampler } from './sampler.ts'

export interface StepGraphOptions {
  guided: boolean
  /** Element type of the model's prediction (float16 for fp16 graphs). */
  predType: ElemType
  /** Element type of the model's `x` input. */
  modelXType: ElemType
}

const LATENT = ['batch', 'c', 'h', 'w']
const ROWS = ['rows', 'c', 'h', 'w']

/** The model input for state x: [x; x] when guided, in the model's type. */
function emitModelInput(g: Graph, x: Value, o: StepGraphOptions): Value {
  return g.cast(o.guided ? concat(g, [x, x], 0) : x, o.modelXType)
}

export function stepGraph(sampler: Sampler, o: StepGraphOptions): Uint8Array {
  const g = new Graph('sampler_step')
  let pred = g.cast(g.input('pred', o.guided ? ROWS : LATENT, o.predType), 'float32')
  const x = g.input('x', LATENT, 'float32')
  const noise = g.input('noise', LATENT, 'float32')
  const coef = g.input('coef', ['k'], 'float32')
  if (o.guided) {
    const guide = {
      weight: g.input('weight', [1], 'float32'),
      fromEnd: g.input('from_end', [1], 'bool'),
      groups: g.input('groups', ['groups', 'batch'], 'float32'),
    }
    const [cond, uncond] = chunk(g, pred, 2, 0) as [Value, Value]
    pred = sampler.emitGuide(g, cond, uncond, guide)
  }
  const next = sampler.emitStep(g, { pred, x, noise, coef })
  g.output(next.x, 'x_next', LATENT)
  g.output(next.output, 'output', LATENT)
  g.output(emitModelInput(g, next.x, o), 'x_model', o.guided ? ROWS : LATENT)
  return g.serialize()
}

/** The first model input of a stage, from its initial noise: `x` -> `x` (kept as the state), `x_model`. */
export function startGraph(o: StepGraphOptions): Uint8Array {
  const g = new Graph('sampler_start')
  const x = g.input('x', LATENT, 'float32')
  g.output(g.op1('Identity', [x]), 'x_state', LATENT)
  g.output(emitModelInput(g, x, o), 'x_model', o.guided ? ROWS : LATENT)
  return g.serialize()
}
