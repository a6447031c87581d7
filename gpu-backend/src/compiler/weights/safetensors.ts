// safetensors: an 8-byte little-endian header length N, N bytes of JSON, then raw tensor bytes.
// Tensors are read by offset, so multi-GB checkpoints are never held in one buffer.
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs'
import { DTYPE_SIZE, isDtype, type SafetensorsDtype, toFloat32 } from './dtype.ts'

export interface TensorEntry {
  name: string
  dtype: SafetensorsDtype
  shape: number[]
  /** Absolute byte offset of the data in the file (usable as ONNX external-data offset). */
  offset: number
  byteLength: number
}

export class SafetensorsError extends Error {}

const MAX_HEADER = 100_000_000

export class SafetensorsFile {
  readonly tensors: Map<string, TensorEntry>
  readonly metadata: Record<string, string>

  private constructor(
    readonly path: string,
    private readonly fd: number,
    tensors: Map<string, TensorEntry>,
    metadata: Record<string, string>,
  ) {
    this.tensors = tensors
    this.metadata = metadata
  }

  static open(path: string): SafetensorsFile {
    const fd = openSync(path, 'r')
    try {
      const size = fstatSync(fd).size
      const fail = (msg: string): never => {
        throw new SafetensorsError(`${path}: ${msg}`)
      }
      if (size < 8) fail(`file is ${size} bytes, too short for a safetensors header`)
      const lenBuf = Buffer.alloc(8)
      readSync(fd, lenBuf, 0, 8, 0)
      const n = Number(lenBuf.readBigUInt64LE(0))
      if (n > MAX_HEADER || 8 + n > size) fail(`header length ${n} does not fit the file size ${size}`)
      const headerBuf = Buffer.alloc(n)
      readSync(fd, headerBuf, 0, n, 8)
      let header: Record<string, unknown>
      try {
        header = JSON.parse(headerBuf.toString('utf8'))
      } catch (e) {
        return fail(`header is not JSON (${(e as Error).message})`)
      }
      const dataStart = 8 + n
      const metadata = (header.__metadata__ ?? {}) as Record<string, string>
      const tensors = new Map<string, TensorEntry>()
      for (const [name, raw] of Object.entries(header)) {
        if (name === '__metadata__') continue
        const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown }
        if (typeof e.dtype !== 'string' || !isDtype(e.dtype))
          fail(`tensor ${name}: unsupported dtype ${String(e.dtype)}`)
        const dtype = e.dtype as SafetensorsDtype
        if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0))
          fail(`tensor ${name}: bad shape ${JSON.stringify(e.shape)}`)
        const shape = e.shape as number[]
        const offs = e.data_offsets as number[]
        if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0))
          fail(`tensor ${name}: bad data_offsets`)
        const [begin, end] = offs as [number, number]
        const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[dtype]
        if (end - begin !== expected)
          fail(
            `tensor ${name}: ${end - begin} bytes for ${dtype}${JSON.stringify(shape)}, expected ${expected}`,
          )
        if (dataStart + end > size)
          fail(`tensor ${name}: data ends at byte ${dataStart + end} but the file has ${size} (truncated?)`)
        tensors.set(name, { name, dtype, shape, offset: dataStart + begin, byteLength: expected })
      }
      return new SafetensorsFile(path, fd, tensors, metadata)
    } catch (e) {
      closeSync(fd)
      throw e
    }
  }

  get(name: string): TensorEntry {
    const t = this.tensors.get(name)
    if (!t) throw new SafetensorsError(`${this.path}: no tensor ${name}`)
    return t
  }

  readBytes(name: string): Uint8Array {
    const t = this.get(name)
    const buf = new Uint8Array(t.byteLength)
    let done = 0
    while (done < t.byteLength) {
      const got = readSync(this.fd, buf, done, t.byteLength - done, t.offset + done)
      if (got === 0) throw new SafetensorsError(`${this.path}: tensor ${name} is truncated`)
      done += got
    }
    return buf
  }

  readFloat32(name: string): Float32Array {
    return toFloat32(this.get(name).dtype, this.readBytes(name))
  }

  readInt64(name: string): BigInt64Array {
    const t = this.get(name)
    if (t.dtype !== 'I64') throw new SafetensorsError(`${this.path}: tensor ${name} is ${t.dtype}, not I64`)
    const b = this.readBytes(name)
    return new BigInt64Array(b.buffer, b.byteOffset, b.byteLength / 8)
  }

  close(): void {
    closeSync(this.fd)
  }
}

export interface TensorToWrite {
  dtype: SafetensorsDtype
  shape: number[]
  /** The bytes, or a function that makes them when the tensor is written (one tensor in memory at a time). */
  data: ArrayBufferView | (() => ArrayBufferView)
}

/** Writes a safetensors file tensor by tensor (header padded with spaces to 8 bytes, as the reference does). */
export function writeSafetensors(
  path: string,
  tensors: Iterable<[string, TensorToWrite]>,
  metadata: Record<string, string> = {},
): void {
  const list = [...tensors]
  const header: Record<string, unknown> = { __metadata__: metadata }
  const sizes: number[] = []
  let off = 0
  for (const [name, t] of list) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[t.dtype]
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + bytes] }
    sizes.push(bytes)
    off += bytes
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8')
  const pad = (8 - (json.length % 8)) % 8
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)])
  const fd = openSync(path, 'w')
  try {
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(json.length))
    writeSync(fd, len)
    writeSync(fd, json)
    for (const [i, [name, t]] of list.entries()) {
      const data = typeof t.data === 'function' ? t.data() : t.data
      if (data.byteLength !== sizes[i])
        throw new SafetensorsError(
          `${path}: tensor ${name} has ${data.byteLength} bytes, its shape ${sizes[i]}`,
        )
      writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    }
  } finally {
    closeSync(fd)
  }
}
