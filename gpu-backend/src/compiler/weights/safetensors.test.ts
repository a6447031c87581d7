import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { f16ToF32, f32ToF16, toFloat32 } from './dtype.ts'
import { SafetensorsFile, writeSafetensors } from './safetensors.ts'

const dir = mkdtempSync(join(tmpdir(), 'st-'))

function sample(path: string) {
  writeSafetensors(path, [
    ['a.weight', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-8, -7]) }],
    ['b.half', { dtype: 'F16', shape: [3], data: Uint16Array.from([1, -0.5, 65504], f32ToF16) }],
    ['c.bf16', { dtype: 'BF16', shape: [2], data: Uint16Array.from([0x3f80, 0xc040]) }],
    ['d.count', { dtype: 'I64', shape: [], data: BigInt64Array.from([1000n]) }],
  ])
}

describe('safetensors', () => {
  it('round-trips F32, F16, BF16 and I64 by offset', () => {
    const p = join(dir, 'ok.safetensors')
    sample(p)
    const f = SafetensorsFile.open(p)
    expect([...f.readFloat32('a.weight')]).toEqual([...Float32Array.from([1, -2, 3.5, 0, 1e-8, -7])])
    expect([...f.readFloat32('b.half')]).toEqual([1, -0.5, 65504])
    expect([...f.readFloat32('c.bf16')]).toEqual([1, -3])
    expect([...f.readInt64('d.count')]).toEqual([1000n])
    expect(f.get('a.weight').shape).toEqual([2, 3])
    // Header padded to 8 bytes, so data offsets stay aligned as the reference writes them.
    expect((f.get('a.weight').offset - 8) % 8).toBe(0)
    f.close()
  })

  it('reads the golden bf16 checkpoint as the widened float32 values', () => {
    const f = SafetensorsFile.open(
      join(import.meta.dirname, '../../../../test/golden/weights/stage_c_tiny_bf16.safetensors'),
    )
    const [name] = f.tensors.keys()
    const entry = f.get(name as string)
    expect(entry.dtype).toBe('BF16')
    const raw = f.readBytes(name as string)
    const widened = f.readFloat32(name as string)
    const bits = new Uint32Array(widened.buffer)
    const halves = new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2)
    for (let i = 0; i < Math.min(16, widened.length); i++)
      expect(bits[i]).toBe(((halves[i] as number) << 16) >>> 0)
    f.close()
  })

  it('refuses a truncated file, naming the file and the tensor', () => {
    const p = join(dir, 'trunc.safetensors')
    sample(p)
    truncateSync(p, readFileSync(p).length - 4)
    expect(() => SafetensorsFile.open(p)).toThrow(
      /trunc\.safetensors: tensor d\.count: data ends at byte \d+ but the file has \d+/,
    )
  })

  it('refuses a header that does not fit the file or is not JSON', () => {
    const p = join(dir, 'bad.safetensors')
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(1000n)
    writeFileSync(p, Buffer.concat([len, Buffer.from('{}')]))
    expect(() => SafetensorsFile.open(p)).toThrow(
      /bad\.safetensors: header length 1000 does not fit the file size 10/,
    )
    len.writeBigUInt64LE(4n)
    writeFileSync(p, Buffer.concat([len, Buffer.from('{oops')]))
    expect(() => SafetensorsFile.open(p)).toThrow(/bad\.safetensors: header is not JSON/)
  })

  it('refuses an entry whose byte range does not match its dtype and shape', () => {
    const p = join(dir, 'shape.safetensors')
    const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }))
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(header.length))
    writeFileSync(p, Buffer.concat([len, header, Buffer.alloc(8)]))
    expect(() => SafetensorsFile.open(p)).toThrow(/tensor w: 8 bytes for F32\[3\], expected 12/)
  })
})

describe('float16 conversion', () => {
  it('rounds to nearest even and handles specials', () => {
    for (const v of [0, 1, -2, 0.1, 65504, 6.1e-5, 5.96e-8, 1e-10])
      expect(f16ToF32(f32ToF16(v))).toBeCloseTo(v, 3)
    expect(f16ToF32(f32ToF16(1e6))).toBe(Number.POSITIVE_INFINITY)
    expect(Number.isNaN(f16ToF32(f32ToF16(Number.NaN)))).toBe(true)
    // 1 + 2^-11 is halfway between 1 and the next half: ties to even (1).
    expect(f16ToF32(f32ToF16(1 + 2 ** -11))).toBe(1)
    expect(f16ToF32(f32ToF16(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9)
  })
  it('decodes little-endian F16 bytes', () => {
    expect([...toFloat32('F16', new Uint8Array([0x00, 0x3c, 0x00, 0xc0]))]).toEqual([1, -2])
  })
})
