// gen_r_embedding (Stage B/C, v2): r·10000 times a frequency table, [sin, cos], in float32 like torch.
import type { Graph, Value } from '../onnx/graph.ts'
import { add, concat, mul, unsqueeze } from '../onnx/ops.ts'

/**
 * torch's float32 table for c_r = 64 (every released model): torch's exp differs from a correctly
 * rounded exp in 3 of the 32 entries, which moves the model output by ~1e-4 relative.
 */
const TORCH_FREQS_64 = [
  0x3f800000, 0x3f3e32e2, 0x3f0d4f93, 0x3ed1fa4b, 0x3e9c0180, 0x3e67d040, 0x3e2c3aa3, 0x3dffeb81, 0x3dbe23a9,
  0x3d8d4443, 0x3d51e97d, 0x3d1bf503, 0x3ce7bdb1, 0x3cac2cda, 0x3c7fd703, 0x3c3e1470, 0x3c0d38f4, 0x3bd1d8af,
  0x3b9be888, 0x3b67ab26, 0x3b2c1f14, 0x3affc287, 0x3abe0538, 0x3a8d2da5, 0x3a51c7e2, 0x3a1bdc0d, 0x39e7989a,
  0x39ac1146, 0x397fae0d, 0x393df600, 0x390d2257, 0x38d1b716,
]

/** The frequency table `torch.arange(half).float().mul(-(ln(10000)/(half-1))).exp()` in float32. */
export function rEmbeddingFreqs(cR: number): Float32Array {
  const half = cR / 2
  if (cR === 64) return new Float32Array(new Uint32Array(TORCH_FREQS_64).buffer)
  const step = Math.fround(-(Math.log(10000) / (half - 1)))
  return Float32Array.from({ length: half }, (_, k) => Math.fround(Math.exp(Math.fround(k * step))))
}

/** Host-side embedding (for constant conditions such as sca = crp = 0). */
export function rEmbeddingHost(r: number, cR: number): Float32Array {
  const freqs = rEmbeddingFreqs(cR)
  const rr = Math.fround(Math.fround(r) * 10000)
  const args = freqs.map((f) => Math.fround(rr * f))
  return Float32Array.from([...args].map(Math.sin).concat([...args].map(Math.cos)))
}

// r: [B] float32 -> [B, c_r] float32. sin/cos run in float64 on float32 arguments (up to ~1e4 rad),
// which reproduces torch's float32 result to an ulp.
export function rEmbedding(g: Graph, r: Value, cR: number): Value {
  const freqs = g.timeFreqs?.length === cR / 2 ? g.timeFreqs : rEmbeddingFreqs(cR)
  const r32 = g.cast(r, 'float32')
  const scaled = mul(g, r32, g.constF([10000], [1], 'float32'))
  const args = mul(g, unsqueeze(g, scaled, [1]), g.constF([...freqs], [1, freqs.length], 'float32'))
  const a64 = g.cast(args, 'float64')
  const emb = concat(g, [g.op1('Sin', [a64]), g.op1('Cos', [a64])], 1)
  return g.cast(emb, 'float32')
}

/**
 * The model's time conditioning: emb(r) followed by emb(c) for each extra condition (sca, crp). An
 * absent condition is the official default 0, kept as a host constant so blocks can fold it.
 */
export interface TimeEmbedding {
  cR: number
  parts: (Value | Float32Array)[]
}

export function timeEmbedding(g: Graph, r: Value, cR: number, conds: (Value | undefined)[]): TimeEmbedding {
  return {
    cR,
    parts: [rEmbedding(g, r, cR), ...conds.map((c) => (c ? rEmbedding(g, c, cR) : rEmbeddingHost(0, cR)))],
  }
}

/** The whole (B, c_r·k) embedding as one graph value, constants broadcast over the batch. */
export function timeEmbeddingValue(g: Graph, t: TimeEmbedding): Value {
  const first = t.parts[0] as Value
  const zeros = g.op1('Mul', [first, g.constF([0], [1], 'float32')])
  const parts = t.parts.map((p) =>
    p instanceof Float32Array ? add(g, zeros, g.constF([...p], [1, t.cR], 'float32')) : p,
  )
  return parts.length === 1 ? first : concat(g, parts, 1)
}
