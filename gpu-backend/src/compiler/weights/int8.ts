// Symmetric int8 weights with one scale per output channel: w ≈ q · scale, q in [-127, 127] (−128 unused, so
// the grid is symmetric around zero and a channel's largest weight maps exactly to ±127).

export interface Int8Columns {
  /** Row-major (K, N), as MatMul's right-hand side. */
  q: Int8Array
  /** One scale per column (output channel). */
  scale: Float32Array
}

/** Quantizes a row-major (K, N) matrix column by column; an all-zero column gets scale 1. */
export function quantizeColumns(w: Float32Array, k: number, n: number): Int8Columns {
  if (w.length !== k * n) throw new Error(`quantizeColumns: ${w.length} values for (${k}, ${n})`)
  const max = new Float32Array(n)
  for (let r = 0; r < k; r++)
    for (let c = 0; c < n; c++) {
      const a = Math.abs(w[r * n + c] as number)
      if (a > (max[c] as number)) max[c] = a
    }
  const scale = Float32Array.from(max, (m) => (m > 0 ? m / 127 : 1))
  const inv = Float64Array.from(scale, (s) => 1 / s)
  const q = new Int8Array(k * n)
  for (let r = 0; r < k; r++)
    for (let c = 0; c < n; c++) q[r * n + c] = Math.round((w[r * n + c] as number) * (inv[c] as number))
  return { q, scale }
}
