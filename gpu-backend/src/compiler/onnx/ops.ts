// Typed helpers for the ONNX ops the Würstchen graphs use. Each takes the graph first and returns
// the output value; weight-carrying helpers take a LazyTensor and name the initializer after its key.
import type { LazyTensor } from '../weights/state-dict.ts'
import type { Graph, Value } from './graph.ts'
import { int8MatMul } from './int8-ops.ts'

export const add = (g: Graph, a: Value, b: Value) => g.op1('Add', [a, b])
export const sub = (g: Graph, a: Value, b: Value) => g.op1('Sub', [a, b])
export const mul = (g: Graph, a: Value, b: Value) => g.op1('Mul', [a, b])
export const div = (g: Graph, a: Value, b: Value) => g.op1('Div', [a, b])
export const matmul = (g: Graph, a: Value, b: Value) => g.op1('MatMul', [a, b])
export const sigmoid = (g: Graph, x: Value) => g.op1('Sigmoid', [x])
/** Exact erf GELU (nn.GELU() default). */
export const gelu = (g: Graph, x: Value) => g.op1('Gelu', [x])
export const silu = (g: Graph, x: Value) => mul(g, x, sigmoid(g, x))
export const transpose = (g: Graph, x: Value, perm: number[]) => g.op1('Transpose', [x], { perm })
export const reshape = (g: Graph, x: Value, shape: number[]) => g.op1('Reshape', [x, g.constI64(shape)])
export const unsqueeze = (g: Graph, x: Value, axes: number[]) => g.op1('Unsqueeze', [x, g.constI64(axes)])
export const concat = (g: Graph, xs: Value[], axis: number) => g.op1('Concat', xs, { axis })
export const shapeOf = (g: Graph, x: Value, start?: number, end?: number) =>
  g.op1(
    'Shape',
    [x],
    { ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}) },
    {
      outType: 'int64',
    },
  )

/** Scalar-or-vector float constant in the graph's compute type. */
export const scalar = (g: Graph, v: number) => g.constF([v], [1])

/** x[..., start:end] along `axis`. */
export function slice(g: Graph, x: Value, axis: number, start: number, end: number): Value {
  return g.op1('Slice', [x, g.constI64([start]), g.constI64([end]), g.constI64([axis])])
}

/** Splits `x` into equal chunks along `axis`. */
export function chunk(g: Graph, x: Value, n: number, axis: number): Value[] {
  return g.op('Split', [x], { axis, num_outputs: n }, n)
}

/**
 * fn applied to `n` consecutive bands of `x` along `axis` (sizes ⌊(i+1)·d/n⌋ − ⌊i·d/n⌋ of the runtime size d)
 * and concatenated: equal to fn(x) wherever an output position depends on the inputs within `halo` of it, since
 * each band comes with `halo` neighbours on both sides (past the edges what `pad` puts there: zeros by default)
 * for fn to consume. Temporaries are 1/n as large: onnxruntime runs one band's nodes after another, so a wide
 * per-position MLP never holds its full-resolution hidden tensor.
 */
export function inChunks(
  g: Graph,
  x: Value,
  axis: number,
  n: number,
  fn: (band: Value) => Value,
  halo = 0,
  pad: (x: Value, halo: number) => Value = (v, p) =>
    g.op1('Pad', [v, g.constI64([p, p]), '', g.constI64([axis])]),
): Value {
  if (n === 1 && halo === 0) return fn(x)
  const d = shapeOf(g, x, axis, axis + 1)
  const padded = halo ? pad(x, halo) : x
  const bound = (i: number, extra: number) => {
    const b = i === 0 ? undefined : g.op1('Div', [g.op1('Mul', [d, g.constI64([i])]), g.constI64([n])])
    if (!b) return g.constI64([extra])
    return extra ? g.op1('Add', [b, g.constI64([extra])]) : b
  }
  const bands = Array.from({ length: n }, (_, i) =>
    fn(g.op1('Slice', [padded, bound(i, 0), bound(i + 1, 2 * halo), g.constI64([axis])])),
  )
  return n === 1 ? (bands[0] as Value) : concat(g, bands, axis)
}

const NCHW_TO_NHWC = [0, 2, 3, 1]
const NHWC_TO_NCHW = [0, 3, 1, 2]
export const toNHWC = (g: Graph, x: Value) => transpose(g, x, NCHW_TO_NHWC)
export const toNCHW = (g: Graph, x: Value) => transpose(g, x, NHWC_TO_NCHW)

/** Transposes a row-major (rows, cols) matrix. */
export function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c] as number
  return out
}

/** nn.Linear on the last axis: weight (out, in) stored transposed for MatMul; int8 in int8 graphs (int8-ops.ts). */
export function linear(
  g: Graph,
  x: Value,
  weight: LazyTensor,
  bias: LazyTensor | undefined,
  name: string,
): Value {
  const [out, inp] = weight.shape as [number, number]
  const data = () => transpose2d(weight.read(), out, inp)
  const b = () => bias && g.weight(`${name}.bias`, [out], () => bias.read())
  if (g.quantizes(name)) return int8MatMul(g, x, name, [inp, out], data, b())
  const y = matmul(g, x, g.weight(`${name}.weight`, [inp, out], data))
  const bv = b()
  return bv ? add(g, y, bv) : y
}

/** A tensor and its size on the last axis. */
export interface Part {
  value: Value
  channels: number
}

/**
 * nn.Linear of the concatenation of `parts` along the last axis. An int8 layer multiplies each part by its columns
 * of the weight instead, each with its own activation scale (`${name}:<k>`): parts of different ranges (a LayerNorm
 * output beside a raw skip, or Würstchen v2's effnet condition) would otherwise share the widest one's.
 */
export function linearOverConcat(
  g: Graph,
  parts: Part[],
  weight: LazyTensor,
  bias: LazyTensor | undefined,
  name: string,
): Value {
  if (parts.length === 1 || !g.quantizes(name))
    return linear(
      g,
      concat(
        g,
        parts.map((p) => p.value),
        -1,
      ),
      weight,
      bias,
      name,
    )
  const [out, inp] = weight.shape as [number, number]
  let from = 0
  const terms = parts.map((p, k) => {
    const start = from
    from += p.channels
    const columns = () => {
      const w = weight.read()
      const t = new Float32Array(p.channels * out)
      for (let j = 0; j < p.channels; j++)
        for (let o = 0; o < out; o++) t[j * out + o] = w[o * inp + start + j] as number
      return t
    }
    const b = k === 0 && bias ? g.weight(`${name}.bias`, [out], () => bias.read()) : undefined
    return int8MatMul(g, p.value, `${name}:${k}`, [p.channels, out], columns, b)
  })
  if (from !== inp) throw new Error(`${name}: parts of ${from} channels for a weight of ${inp} inputs`)
  return terms.reduce((sum, t) => add(g, sum, t))
}

export interface ConvOptions {
  stride?: number
  pad?: number
  group?: number
}

/** nn.Conv2d (NCHW), zero padding. A 1×1 conv of an int8 graph is an int8 linear layer on channels-last data. */
export function conv2d(
  g: Graph,
  x: Value,
  weight: LazyTensor,
  bias: LazyTensor | undefined,
  name: string,
  o: ConvOptions = {},
): Value {
  const [cOut, cIn, kh, kw] = weight.shape as [number, number, number, number]
  const pointwise = kh === 1 && kw === 1 && (o.stride ?? 1) === 1 && (o.group ?? 1) === 1 && !o.pad
  if (pointwise && g.quantizes(name)) {
    const matrix = { ...weight, shape: [cOut, cIn] }
    return toNCHW(g, linear(g, toNHWC(g, x), matrix, bias, name))
  }
  const w = g.weight(`${name}.weight`, weight.shape, () => weight.read())
  const inputs: Value[] = [x, w]
  if (bias) inputs.push(g.weight(`${name}.bias`, bias.shape, () => bias.read()))
  const p = o.pad ?? 0
  return g.op1('Conv', inputs, {
    kernel_shape: [kh, kw],
    strides: [o.stride ?? 1, o.stride ?? 1],
    pads: [p, p, p, p],
    group: o.group ?? 1,
  })
}

/**
 * nn.ConvTranspose2d (NCHW); weight layout (C_in, C_out, kh, kw) is ONNX's too. `pad` crops the output: one
 * size for both axes, or (rows, columns).
 */
export function convTranspose2d(
  g: Graph,
  x: Value,
  weight: LazyTensor,
  bias: LazyTensor | undefined,
  name: string,
  o: { stride: number; pad: number | [number, number] },
): Value {
  const [, , kh, kw] = weight.shape as [number, number, number, number]
  const w = g.weight(`${name}.weight`, weight.shape, () => weight.read())
  const inputs: Value[] = [x, w]
  if (bias) inputs.push(g.weight(`${name}.bias`, bias.shape, () => bias.read()))
  const pair = typeof o.pad === 'number' ? [o.pad, o.pad] : o.pad
  return g.op1('ConvTranspose', inputs, {
    kernel_shape: [kh, kw],
    strides: [o.stride, o.stride],
    pads: [...pair, ...pair],
  })
}

/**
 * LayerNorm over the last axis (size c) without affine parameters, computed in float32 even in fp16
 * graphs. ORT needs an explicit scale and bias input.
 */
export function layerNormLastAxis(g: Graph, x: Value, c: number, eps: number): Value {
  const x32 = g.cast(x, 'float32')
  const ones = g.constF(new Array(c).fill(1), [c], 'float32')
  const zeros = g.constF(new Array(c).fill(0), [c], 'float32')
  const y = g.op1('LayerNormalization', [x32, ones, zeros], { axis: -1, epsilon: { f: eps } })
  return g.cast(y, x.type)
}

/** LayerNorm with affine weight and bias (CLIP), in float32. */
export function layerNormAffine(
  g: Graph,
  x: Value,
  w: LazyTensor,
  b: LazyTensor,
  name: string,
  eps: number,
): Value {
  const x32 = g.cast(x, 'float32')
  const scale = g.weight(`${name}.weight`, w.shape, () => w.read(), 'float32')
  const bias = g.weight(`${name}.bias`, b.shape, () => b.read(), 'float32')
  const y = g.op1('LayerNormalization', [x32, scale, bias], { axis: -1, epsilon: { f: eps } })
  return g.cast(y, x.type)
}

/** PixelUnshuffle(r): out[b, c·r² + i·r + j, h, w] = in[b, c, h·r+i, w·r+j] (not SpaceToDepth's DCR order). */
export function pixelUnshuffle(g: Graph, x: Value, r: number): Value {
  if (r === 1) return x
  const s = g.op1('Shape', [x], {}, { outType: 'int64' })
  const dims = (i: number) => g.op1('Gather', [s, g.constI64([i])], { axis: 0 }, { outType: 'int64' })
  const [b, c, h, w] = [0, 1, 2, 3].map(dims) as [Value, Value, Value, Value]
  const rr = g.constI64([r])
  const hr = g.op1('Div', [h, rr])
  const wr = g.op1('Div', [w, rr])
  const six = g.op1('Concat', [b, c, hr, rr, wr, rr], { axis: 0 })
  const t = transpose(g, g.op1('Reshape', [x, six]), [0, 1, 3, 5, 2, 4])
  const four = g.op1('Concat', [b, g.op1('Mul', [c, g.constI64([r * r])]), hr, wr], { axis: 0 })
  return g.op1('Reshape', [t, four])
}

/** PixelShuffle(r) = DepthToSpace in CRD mode. */
export function pixelShuffle(g: Graph, x: Value, r: number): Value {
  return r === 1 ? x : g.op1('DepthToSpace', [x], { blocksize: r, mode: 'CRD' })
}

/** F.interpolate(bilinear, align_corners=True) to the spatial size of `like` (NCHW). */
export function resizeBilinearLike(g: Graph, x: Value, like: Value): Value {
  const nc = shapeOf(g, x, 0, 2)
  const hw = shapeOf(g, like, 2, 4)
  const sizes = concat(g, [nc, hw], 0)
  return g.op1('Resize', [x, '', '', sizes], {
    mode: 'linear',
    coordinate_transformation_mode: 'align_corners',
  })
}
