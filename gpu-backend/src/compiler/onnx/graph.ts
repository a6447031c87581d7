// A small ONNX graph builder: typed values, named nodes, lazy initializers streamed to external data.
import { closeSync, openSync, writeSync } from 'node:fs'
import { basename } from 'node:path'
import { toFloat16Bits } from '../weights/dtype.ts'
import { defaultKeepFp32, Int8Layers } from './int8-layers.ts'
import {
  AttrType,
  ELEM,
  ELEM_SIZE,
  type ElemType,
  type IAttributeProto,
  type INodeProto,
  type IValueInfoProto,
  onnx,
} from './proto.ts'

export const OPSET = 21
export const MS_OPSET = 1
const IR_VERSION = 10

/** fp16: float16 tensors; int8: float32 tensors, int8 weights for the linear and 1×1 layers (int8-ops.ts). */
export type GraphDtype = 'fp32' | 'fp16' | 'int8'

export interface GraphOptions {
  dtype?: GraphDtype
  /** int8 graphs: glob patterns of the layers that stay fp32 (int8-layers.ts; default DEFAULT_KEEP_FP32). */
  keepFp32?: readonly string[]
  /**
   * int8 graphs: quantize weights and activations in blocks of this many inputs (MatMulNBits; per row for the
   * activations) instead of per output channel and per tensor: about half the error, at some of the speed.
   */
  int8Block?: number
  fused?: boolean
  /** Attention kernel: plain MatMul/Softmax (default; fastest on ORT's CPU provider) or com.microsoft MHA. */
  attention?: AttentionKernel
  /**
   * The time embedding's frequency table, when a reference's exact float32 values are wanted (torch's exp
   * differs from a correctly rounded one by an ulp in a few entries); used where its length is c_r / 2.
   */
  timeFreqs?: Float32Array
  /** A tile graph: circular borders on the axes its `tiling` input selects (blocks/borders.ts). */
  tiling?: boolean
}

export type AttentionKernel = 'matmul' | 'mha'

/** Tensor dimensions: sizes, or names for dynamic axes. */
export type Dims = (number | string)[]

/** A named tensor in the graph. `type` is the element type when the builder knows it. */
export interface Value {
  readonly name: string
  readonly type: ElemType
}

export type AttrValue = number | string | number[] | { f: number } | { fs: number[] }

/** An integer weight and its scales. */
export interface QuantizedWeight {
  q: Value
  scale: Value
}

/** How a quantized weight is stored: initializer name suffixes, the integer tensor's shape and type, the scales'. */
export interface QuantizedLayout {
  q: string
  qDims: number[]
  qType: 'int8' | 'uint8'
  scale: string
  scaleDims: number[]
}

interface Initializer {
  name: string
  dims: number[]
  type: ElemType
  byteLength: number
  bytes: () => Uint8Array
  /**
   * Kept in the model proto even when external data is written: the graph's own constants. They are small, and
   * their generated names depend on what was built before them, so in external data they would make a variant graph
   * (a tile graph) lay out its weights file differently from its base graph and lose the sharing.
   */
  inline?: boolean
}

export interface NodeOptions {
  /** Node name; defaults to the first output name. */
  name?: string
  domain?: string
  /** Element type of the outputs, when it differs from the first input's. */
  outType?: ElemType
}

export interface SerializeOptions {
  /** Write initializers of at least `minBytes` into this file (ONNX external data), named relative to the model. */
  externalDataPath?: string
  /**
   * Point at `externalDataPath` as another graph wrote it instead of writing it: that graph's externalLayout()
   * must equal this one's (same tensors in the same order), so a variant graph shares its base graph's weights.
   */
  reuseExternalData?: boolean
  minBytes?: number
  onTensor?: (name: string) => void
}

const DEFAULT_MIN_EXTERNAL_BYTES = 1024

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

export class Graph {
  readonly floatType: ElemType
  private readonly nodes: INodeProto[] = []
  private readonly inputs: IValueInfoProto[] = []
  private readonly outputs: IValueInfoProto[] = []
  private readonly inits: Initializer[] = []
  private readonly used = new Set<string>()
  private readonly constCache = new Map<string, Value>()
  private readonly memoCache = new Map<string, unknown>()
  private readonly weights = new Map<string, { value: Value; dims: number[] }>()
  private readonly quantizedWeights = new Map<string, { value: QuantizedWeight; dims: number[] }>()

  readonly dtype: GraphDtype
  /** Use fused kernels and host-side folding; false builds the plain graph (the benchmark's baseline). */
  readonly fused: boolean
  readonly attention: AttentionKernel
  readonly timeFreqs: Float32Array | undefined
  readonly tiling: boolean
  /** int8 graphs: which layers are int8 and which stayed fp32. */
  readonly int8Layers: Int8Layers | undefined
  readonly int8Block: number | undefined

  constructor(
    readonly name: string,
    opts: GraphOptions = {},
  ) {
    this.dtype = opts.dtype ?? 'fp32'
    this.fused = opts.fused ?? true
    this.attention = opts.attention ?? 'matmul'
    this.timeFreqs = opts.timeFreqs
    this.tiling = opts.tiling ?? false
    this.floatType = this.dtype === 'fp16' ? 'float16' : 'float32'
    this.int8Block = opts.int8Block
    this.int8Layers =
      this.dtype === 'int8' ? new Int8Layers(name, opts.keepFp32 ?? defaultKeepFp32()) : undefined
  }

  /** Whether the linear or 1×1 layer `name` gets int8 weights (int8 graphs, unless a keep-fp32 pattern names it). */
  quantizes(name: string): boolean {
    return this.int8Layers?.quantizes(name) ?? false
  }

  /** A fresh tensor name, derived from `base`. */
  fresh(base: string): string {
    let name = base
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`
    this.used.add(name)
    return name
  }

  /** A graph input; `dims` null leaves its rank open. */
  input(name: string, dims: Dims | null, type: ElemType = this.floatType): Value {
    this.used.add(name)
    this.inputs.push(valueInfo(name, type, dims))
    return { name, type }
  }

  output(v: Value, name: string, dims: Dims | null): void {
    const out = v.name === name ? v : this.op1('Identity', [v], {}, { name })
    if (out.name !== name) throw new Error(`output name ${name} is taken`)
    this.outputs.push(valueInfo(name, out.type, dims))
  }

  /** Emits one node; returns its outputs. `''` marks an omitted optional input. */
  op(
    opType: string,
    inputs: (Value | '')[],
    attrs: Record<string, AttrValue> = {},
    nOut = 1,
    opts: NodeOptions = {},
  ): Value[] {
    const base = opts.name ?? `${opType}`
    const outNames = Array.from({ length: nOut }, (_, i) => this.fresh(nOut === 1 ? base : `${base}:${i}`))
    const first = inputs.find((v): v is Value => v !== '')
    const type = opts.outType ?? first?.type ?? this.floatType
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        domain: opts.domain ?? '',
        name: outNames[0],
        input: inputs.map((v) => (v === '' ? '' : v.name)),
        output: outNames,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    )
    return outNames.map((name) => ({ name, type }))
  }

  op1(
    opType: string,
    inputs: (Value | '')[],
    attrs: Record<string, AttrValue> = {},
    opts: NodeOptions = {},
  ): Value {
    return this.op(opType, inputs, attrs, 1, opts)[0] as Value
  }

  /** A lazily produced initializer (bytes are only read when the model is written). */
  initializer(name: string, dims: number[], type: ElemType, bytes: () => Uint8Array, inline = false): Value {
    const unique = this.fresh(name)
    const byteLength = dims.reduce((a, b) => a * b, 1) * ELEM_SIZE[type]
    this.inits.push({ name: unique, dims, type, byteLength, bytes, ...(inline ? { inline } : {}) })
    return { name: unique, type }
  }

  /**
   * Float weights in the graph's compute type (fp32 or fp16), produced lazily as float32. A name is one tensor:
   * a module applied more than once (Stage B's block_repeat) gets the initializer of its first use, not a copy.
   */
  weight(name: string, dims: number[], data: () => Float32Array, type: ElemType = this.floatType): Value {
    const key = `${type}:${name}`
    const hit = this.weights.get(key)
    if (hit) {
      if (`${hit.dims}` !== `${dims}`)
        throw new Error(`weight ${name} used as [${hit.dims}] and as [${dims}]`)
      return hit.value
    }
    const value = this.floatInitializer(name, dims, data, type)
    this.weights.set(key, { value, dims })
    return value
  }

  /**
   * A quantized weight: its integer tensor and its float32 scales, both produced by one call of `make` (from the
   * float32 weights, read once) when the first of the two is written, and dropped after the second; cached by name
   * like weight().
   */
  quantizedWeight(
    name: string,
    layout: QuantizedLayout,
    make: () => { q: ArrayBufferView; scale: Float32Array },
  ): QuantizedWeight {
    const key = `${layout.q}:${name}`
    const dims = [...layout.qDims, ...layout.scaleDims]
    const hit = this.quantizedWeights.get(key)
    if (hit) {
      if (`${hit.dims}` !== `${dims}`)
        throw new Error(`weight ${name} used as [${hit.dims}] and as [${dims}]`)
      return hit.value
    }
    let pending: ReturnType<typeof make> | undefined
    let reads = 0
    const part = (k: 'q' | 'scale') => {
      pending ??= make()
      const out = pending[k]
      if (++reads % 2 === 0) pending = undefined
      return bytesOf(out)
    }
    const value = {
      q: this.initializer(`${name}.${layout.q}`, layout.qDims, layout.qType, () => part('q')),
      scale: this.initializer(`${name}.${layout.scale}`, layout.scaleDims, 'float32', () => part('scale')),
    }
    this.quantizedWeights.set(key, { value, dims })
    return value
  }

  private floatInitializer(
    name: string,
    dims: number[],
    data: () => Float32Array,
    type: ElemType,
    inline = false,
  ): Value {
    return this.initializer(
      name,
      dims,
      type,
      () => {
        const f = data()
        return type === 'float16' ? bytesOf(toFloat16Bits(f)) : bytesOf(f)
      },
      inline,
    )
  }

  /** A small float constant, deduplicated by value. */
  constF(values: number[], dims: number[] = [values.length], type: ElemType = this.floatType): Value {
    const key = `${type}:${dims}:${values}`
    const hit = this.constCache.get(key)
    if (hit) return hit
    const v = this.floatInitializer(`const_${type}`, dims, () => Float32Array.from(values), type, true)
    this.constCache.set(key, v)
    return v
  }

  constI64(values: number[], dims: number[] = [values.length]): Value {
    const key = `i64:${dims}:${values}`
    const hit = this.constCache.get(key)
    if (hit) return hit
    const v = this.initializer(
      'const_i64',
      dims,
      'int64',
      () => bytesOf(BigInt64Array.from(values, BigInt)),
      true,
    )
    this.constCache.set(key, v)
    return v
  }

  /** Builds a value once per key (e.g. SiLU of the condition tokens, shared by every AttnBlock). */
  memo<T = Value>(key: string, build: () => T): T {
    if (this.memoCache.has(key)) return this.memoCache.get(key) as T
    const v = build()
    this.memoCache.set(key, v)
    return v
  }

  /** Casts to `type` when needed (fp16 graphs keep numerically fragile ops in float32). */
  cast(v: Value, type: ElemType): Value {
    if (v.type === type) return v
    return this.op1('Cast', [v], { to: ELEM[type] }, { outType: type, name: `${v.name}/cast` })
  }

  get nodeCount(): number {
    return this.nodes.length
  }

  get initializerBytes(): number {
    return this.inits.reduce((n, i) => n + i.byteLength, 0)
  }

  get initializerCount(): number {
    return this.inits.length
  }

  opTypes(): string[] {
    return this.nodes.map((n) => n.opType as string)
  }

  /** The initializers that serialize() moves to external data, in file order: names, types and shapes. */
  externalLayout(minBytes = DEFAULT_MIN_EXTERNAL_BYTES): string {
    return this.inits
      .filter((i) => !i.inline && i.byteLength >= minBytes)
      .map((i) => `${i.name}:${i.type}[${i.dims}]`)
      .join('\n')
  }

  /** Serializes the model; large initializers go to `externalDataPath` (required above 2 GB). */
  serialize(opts: SerializeOptions = {}): Uint8Array {
    const minBytes = opts.minBytes ?? DEFAULT_MIN_EXTERNAL_BYTES
    let fd: number | undefined
    let offset = 0
    const location = opts.externalDataPath ? basename(opts.externalDataPath) : ''
    const writing = opts.externalDataPath !== undefined && !opts.reuseExternalData
    if (writing) fd = openSync(opts.externalDataPath as string, 'w')
    try {
      const initializer = this.inits.map((init) => {
        const dataType = ELEM[init.type]
        const external = opts.externalDataPath !== undefined && !init.inline && init.byteLength >= minBytes
        opts.onTensor?.(init.name)
        if (external && !writing) {
          offset += init.byteLength
          return externalTensor(init, location, offset - init.byteLength)
        }
        const bytes = init.bytes()
        if (bytes.byteLength !== init.byteLength)
          throw new Error(`initializer ${init.name}: ${bytes.byteLength} bytes, expected ${init.byteLength}`)
        if (!external)
          return onnx.TensorProto.create({ name: init.name, dims: init.dims, dataType, rawData: bytes })
        const t = externalTensor(init, location, offset)
        writeSync(fd as number, bytes)
        offset += bytes.byteLength
        return t
      })
      const model = onnx.ModelProto.create({
        irVersion: IR_VERSION,
        producerName: 'cascade-edge',
        opsetImport: [
          { domain: '', version: OPSET },
          { domain: 'com.microsoft', version: MS_OPSET },
        ],
        graph: { name: this.name, node: this.nodes, input: this.inputs, output: this.outputs, initializer },
      })
      const err = onnx.ModelProto.verify(model)
      if (err) throw new Error(`invalid ONNX model ${this.name}: ${err}`)
      return onnx.ModelProto.encode(model).finish()
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
  }
}

function externalTensor(init: Initializer, location: string, offset: number) {
  return onnx.TensorProto.create({
    name: init.name,
    dims: init.dims,
    dataType: ELEM[init.type],
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(init.byteLength) },
    ],
  })
}

function valueInfo(name: string, type: ElemType, dims: Dims | null): IValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) }
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: ELEM[type], ...(shape ? { shape } : {}) } },
  })
}

function attribute(name: string, v: AttrValue): IAttributeProto {
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) }
  if (typeof v === 'number')
    return Number.isInteger(v) ? { name, type: AttrType.INT, i: v } : { name, type: AttrType.FLOAT, f: v }
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v }
  if ('f' in v) return { name, type: AttrType.FLOAT, f: v.f }
  if ('fs' in v) return { name, type: AttrType.FLOATS, floats: v.fs }
  throw new Error(`unsupported attribute ${name}`)
}
