// The sampler contract shared by every algorithm (style.md: a pure object; randomness only through the
// `noise` argument). Tensors are flat float32 arrays of one (B, ...) batch; one time value serves the batch.
// Each algorithm exists twice: on the host (`step`, `guide`) and as ONNX nodes (`emitStep`, `emitGuide`) for the
// on-device loop (step-graph.ts). Both take their per-step scalars from `coefficients`.
import type { Graph, Value } from '../compiler/onnx/graph.ts'

export interface StepResult {
  /** The sample at `tNext`. */
  x: Float32Array
  /** What the stage returns when this was its last step (GDF: x0̂ at t; DDPM: the sample at tNext). */
  output: Float32Array
}

/** float32 values of a step graph: `coef` is the step's `coefficients`, a 1-D tensor. */
export interface StepValues {
  pred: Value
  x: Value
  noise: Value
  coef: Value
}

/** Guidance inputs of a step graph (cfg.ts `guidanceFeeds` makes them). */
export interface GuideValues {
  /** [1] float32: the lerp coefficient (w, or w − 1 when `fromEnd`). */
  weight: Value
  /** [1] bool: lerp from the end point, as torch does for |w| ≥ 0.5. */
  fromEnd: Value
  /** (G, B) float32, one row per group of images that share guidance statistics. */
  groups: Value
}

export interface Sampler {
  /** steps + 1 times, from pure noise down to the target; the model is evaluated at the first `steps`. */
  timesteps(steps: number): Float32Array
  /** The noise level `r` the model sees at time t. */
  modelInput(t: number): number
  /** Classifier-free guidance over one group of images (the batch the reference sampled together). */
  guide(cond: Float32Array, uncond: Float32Array, scale: number): Float32Array
  /** One update from t to tNext; `noise` is a fresh standard-normal tensor of x's shape. */
  step(pred: Float32Array, t: number, tNext: number, x: Float32Array, noise: Float32Array): StepResult
  /** The float32 scalars one step from t to tNext needs, in the order `emitStep` reads them. */
  coefficients(t: number, tNext: number): Float32Array
  /** `step` as graph nodes (rounding op by op as the host does). */
  emitStep(g: Graph, v: StepValues): { x: Value; output: Value }
  /** `guide` as graph nodes, every group of the batch at once. */
  emitGuide(g: Graph, cond: Value, uncond: Value, v: GuideValues): Value
}

/** Named per-step scalars packed in the order of `names` (a sampler's `coefficients`). */
export function packCoefficients<K extends string>(names: readonly K[], c: Record<K, number>): Float32Array {
  return Float32Array.from(names, (k) => c[k])
}

/** The named scalars of a step graph's `coef` input, each a [1] value that broadcasts. */
export function emitCoefficients<K extends string>(
  g: Graph,
  coef: Value,
  names: readonly K[],
): Record<K, Value> {
  return Object.fromEntries(
    names.map((k, i) => [k, g.op1('Slice', [coef, g.constI64([i]), g.constI64([i + 1]), g.constI64([0])])]),
  ) as Record<K, Value>
}
