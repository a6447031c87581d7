// Float32 arithmetic as torch performs it on CPU: each tensor op rounds to float32, and a Python float
// operand is first cast to float32. Emulating that op by op keeps the schedules bit-close to the references.

export const f32 = Math.fround

/** torch.pi as a float32 operand. */
export const PI_F32 = f32(Math.PI)

/**
 * torch.linspace(start, end, steps) in float32 (ATen's scalar CPU kernel: the first half counts up from
 * start, the second half down from end). ATen vectorizes outputs of 8+ values, which can differ by 1 ulp.
 */
export function torchLinspace(start: number, end: number, steps: number): Float32Array {
  const s = f32(start)
  const e = f32(end)
  const step = f32(f32(e - s) / (steps - 1))
  const half = Math.floor(steps / 2)
  const out = new Float32Array(steps)
  for (let i = 0; i < steps; i++) out[i] = i < half ? s + f32(step * i) : e - f32(step * (steps - i - 1))
  if (steps === 1) out[0] = s
  return out
}

/** numpy.linspace(start, stop, num) in float64 (endpoint included and exact). */
export function numpyLinspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1)
  return Array.from({ length: num }, (_, i) => (i === num - 1 && num > 1 ? stop : i * step + start))
}
