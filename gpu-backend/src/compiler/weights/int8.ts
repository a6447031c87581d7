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

export interface Int8Blocks {
  /** (N, ⌈K / block⌉, block) uint8: q + 128 (MatMulNBits' layout and default zero point), zero-padded past K. */
  q: Uint8Array
  /** One scale per column and block, (N, ⌈K / block⌉). */
  scale: Float32Array
}

/** Quantizes each column of a row-major (K, N) matrix in blocks of `block` rows, symmetric, one scale per block. */
export function quantizeBlocks(w: Float32Array, k: number, n: number, block: number): Int8Blocks {
  if (w.length !== k * n) throw new Error(`quantizeBlocks: ${w.length} values for (${k}, ${n})`)
  const nb = Math.ceil(k / block)
  const q = new Uint8Array(n * nb * block).fill(128)
  const scale = new Float32Array(n * nb)
  for (let c = 0; c < n; c++)
    for (let b = 0; b < nb; b++) {
      const end = Math.min(k, (b + 1) * block)
      let max = 0
      for (let r = b * block; r < end; r++) max = Math.max(max, Math.abs(w[r * n + c] as number))
      const s = max > 0 ? max / 127 : 1
      scale[c * nb + b] = s
      const base = (c * nb + b) * block - b * block
      for (let r = b * block; r < end; r++) q[base + r] = 128 + Math.round((w[r * n + c] as number) / s)
    }
  return { q, scale }
}
