// Element types found in official checkpoints, and conversions to the float32 the graphs compute in.

export const DTYPE_SIZE = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const
export type SafetensorsDtype = keyof typeof DTYPE_SIZE

export function isDtype(s: string): s is SafetensorsDtype {
  return Object.hasOwn(DTYPE_SIZE, s)
}

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** IEEE half -> float (exact). */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const m = h & 0x3ff
  if (e === 0) return s * m * 2 ** -24
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY
  return s * (1 + m / 1024) * 2 ** (e - 15)
}

/** float -> IEEE half, round to nearest even (Node 22 has no Float16Array). */
export function f32ToF16(v: number): number {
  f32[0] = v
  const x = u32[0] as number
  const sign = (x >>> 16) & 0x8000
  const rawExp = (x >>> 23) & 0xff
  let mant = x & 0x7fffff
  if (rawExp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0)
  const exp = rawExp - 127 + 15
  if (exp >= 0x1f) return sign | 0x7c00
  if (exp <= 0) {
    if (exp < -10) return sign
    mant |= 0x800000
    const shift = 14 - exp
    const half = 1 << (shift - 1)
    const rest = mant & ((1 << shift) - 1)
    let out = mant >> shift
    if (rest > half || (rest === half && out & 1)) out += 1
    return sign | out
  }
  const rest = mant & 0x1fff
  let out = (exp << 10) | (mant >> 13)
  if (rest > 0x1000 || (rest === 0x1000 && out & 1)) out += 1
  return sign | out
}

/** Decodes raw little-endian bytes of a floating dtype into float32. */
export function toFloat32(dtype: SafetensorsDtype, bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength / DTYPE_SIZE[dtype]
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = new Float32Array(n)
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true)
      return out
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true)
      return out
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(2 * i, true))
      return out
    case 'BF16': {
      // bf16 is the upper half of a float32: widening is exact.
      const bits = new Uint32Array(out.buffer)
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16
      return out
    }
    default:
      throw new Error(`cannot read ${dtype} as float`)
  }
}

export function toFloat16Bits(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length)
  for (let i = 0; i < data.length; i++) out[i] = f32ToF16(data[i] as number)
  return out
}

/** float -> bfloat16 bits, round to nearest even (NaN stays NaN). */
export function toBFloat16Bits(data: Float32Array): Uint16Array {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length)
  const out = new Uint16Array(data.length)
  for (let i = 0; i < data.length; i++) {
    const x = bits[i] as number
    out[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16
  }
  return out
}
