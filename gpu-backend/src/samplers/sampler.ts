// The sampler contract shared by every algorithm (style.md: a pure object; randomness only through the
// `noise` argument). Tensors are flat float32 arrays of one (B, ...) batch; one time value serves the batch.

export interface StepResult {
  /** The sample at `tNext`. */
  x: Float32Array
  /** What the stage returns when this was its last step (GDF: x0̂ at t; DDPM: the sample at tNext). */
  output: Float32Array
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
}
