// Which int8 operator to emit: onnxruntime's CPU candidates for an int8 linear layer and for the convolutions that
// stay fp32, timed side by side against the fp32 op on the released models' shapes (2 intra-op threads, random
// Gaussian data, weights with per-output-channel scales), each with its error against the fp32 op (relative L2).
//   linear  DynamicQuantizeMatMul; DynamicQuantizeLinear + MatMulIntegerToFloat (what int8 graphs emit);
//           DynamicQuantizeLinear + MatMulInteger + Cast + Mul; MatMulNBits 8-bit, block 32 (per row and block
//           activations, accuracy level 4); QLinearMatMul (static output scale, calibrated on the fp32 result here)
//   conv    depthwise and dense 3×3: DynamicQuantizeLinear + ConvInteger + Cast + Mul; QLinearConv (static output
//           scale, calibrated here)
import { Graph, type Value } from '../gpu-backend/src/compiler/onnx/graph.ts'
import { quantizeBlocks, quantizeColumns } from '../gpu-backend/src/compiler/weights/int8.ts'
import { relL2 } from '../gpu-backend/src/pipeline/image-metrics.ts'
import { createSession, floatTensor, type ort } from '../gpu-backend/src/runtime/session.ts'
import { median, type Ratio, report } from './lib/report.ts'

const RUNS = Number(process.env.BENCH_RUNS ?? 9)
const THREADS = 2
const ratios: Ratio[] = []
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

/** Standard normal draws from a fixed seed (Box–Muller on xorshift32). */
function gaussian(n: number, std: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1
  const u = () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return ((s >>> 0) + 0.5) / 4294967296
  }
  return Float32Array.from(
    { length: n },
    () => std * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()),
  )
}

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0)

interface Variant {
  name: string
  build(g: Graph, x: Value, ref: Float32Array): Value
}

/** The activations of `x`, quantized per tensor each call: uint8 values, scale, zero point. */
const dynamicQuantize = (g: Graph, x: Value) => {
  const [q, s, z] = g.op('DynamicQuantizeLinear', [x], {}, 3) as [Value, Value, Value]
  return [{ ...q, type: 'uint8' }, s, { ...z, type: 'uint8' }] as const
}
const ms = { domain: 'com.microsoft', outType: 'float32' } as const

/** A static output scale that covers the fp32 result (the best a calibration could pick), zero point 128. */
const staticOutput = (g: Graph, ref: Float32Array) => ({
  scale: g.initializer('y_scale', [], 'float32', () => bytesOf(Float32Array.of(maxAbs(ref) / 127))),
  zero: g.initializer('y_zero', [], 'uint8', () => Uint8Array.of(128)),
})

function linearVariants(k: number, n: number): Variant[] {
  const w = gaussian(k * n, 1 / Math.sqrt(k), 2)
  const bias = gaussian(n, 0.05, 3)
  const cols = quantizeColumns(w, k, n)
  const wq = (g: Graph) => g.initializer('w_int8', [k, n], 'int8', () => bytesOf(cols.q))
  const ws = (g: Graph) => g.initializer('w_scale', [n], 'float32', () => bytesOf(cols.scale))
  const b = (g: Graph) => g.initializer('b', [n], 'float32', () => bytesOf(bias))
  return [
    {
      name: 'fp32 MatMul',
      build: (g, x) =>
        g.op1('Add', [g.op1('MatMul', [x, g.initializer('w', [k, n], 'float32', () => bytesOf(w))]), b(g)]),
    },
    {
      name: 'DynamicQuantizeMatMul',
      build: (g, x) => g.op1('DynamicQuantizeMatMul', [x, wq(g), ws(g), '', b(g)], {}, ms),
    },
    {
      name: 'MatMulIntegerToFloat',
      build: (g, x) => {
        const [q, s, z] = dynamicQuantize(g, x)
        return g.op1('MatMulIntegerToFloat', [q, wq(g), s, ws(g), z, '', b(g)], {}, ms)
      },
    },
    {
      name: 'MatMulInteger',
      build: (g, x) => {
        const [q, s, z] = dynamicQuantize(g, x)
        const y = g.op1('MatMulInteger', [q, wq(g), z], {}, { outType: 'int32' })
        const f = g.op1('Cast', [y], { to: 1 }, { outType: 'float32' })
        return g.op1('Add', [g.op1('Mul', [f, g.op1('Mul', [s, ws(g)])]), b(g)])
      },
    },
    {
      name: 'MatMulNBits (block 32)',
      build: (g, x) => {
        const blocks = quantizeBlocks(w, k, n, 32)
        const nb = Math.ceil(k / 32)
        const q = g.initializer('w_blocks', [n, nb, 32], 'uint8', () => blocks.q)
        const s = g.initializer('w_block_scale', [n * nb], 'float32', () => bytesOf(blocks.scale))
        const attrs = { K: k, N: n, bits: 8, block_size: 32, accuracy_level: 4 }
        return g.op1('MatMulNBits', [x, q, s, '', '', b(g)], attrs, ms)
      },
    },
    {
      name: 'QLinearMatMul (static output scale)',
      build: (g, x, ref) => {
        const [q, s, z] = dynamicQuantize(g, x)
        const out = staticOutput(g, ref)
        const wz = g.initializer('w_zero', [n], 'int8', () => new Uint8Array(n))
        const y = g.op1(
          'QLinearMatMul',
          [q, s, z, wq(g), ws(g), wz, out.scale, out.zero],
          {},
          { outType: 'uint8' },
        )
        return g.op1('Add', [
          g.op1('DequantizeLinear', [y, out.scale, out.zero], {}, { outType: 'float32' }),
          b(g),
        ])
      },
    },
  ]
}

function convVariants(cIn: number, cOut: number, group: number): Variant[] {
  const perGroup = cIn / group
  const w = gaussian(cOut * perGroup * 9, 1 / Math.sqrt(perGroup * 9), 4)
  const dims = [cOut, perGroup, 3, 3]
  const attrs = { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group }
  // Per output channel: the rows of the (cOut, perGroup·9) matrix.
  const cols = quantizeColumns(transposeRows(w, cOut, perGroup * 9), perGroup * 9, cOut)
  const qRows = transposeRows(Float32Array.from(cols.q), perGroup * 9, cOut)
  const wq = (g: Graph) => g.initializer('w_int8', dims, 'int8', () => bytesOf(Int8Array.from(qRows)))
  return [
    {
      name: 'fp32 Conv',
      build: (g, x) => g.op1('Conv', [x, g.initializer('w', dims, 'float32', () => bytesOf(w))], attrs),
    },
    {
      name: 'ConvInteger',
      build: (g, x) => {
        const [q, s, z] = dynamicQuantize(g, x)
        const y = g.op1('ConvInteger', [q, wq(g), z], attrs, { outType: 'int32' })
        const f = g.op1('Cast', [y], { to: 1 }, { outType: 'float32' })
        const ws = g.initializer('w_scale', [cOut, 1, 1], 'float32', () => bytesOf(cols.scale))
        return g.op1('Mul', [f, g.op1('Mul', [s, ws])])
      },
    },
    {
      name: 'QLinearConv (static output scale)',
      build: (g, x, ref) => {
        const [q, s, z] = dynamicQuantize(g, x)
        const out = staticOutput(g, ref)
        const ws = g.initializer('w_scale', [cOut], 'float32', () => bytesOf(cols.scale))
        const wz = g.initializer('w_zero', [cOut], 'int8', () => new Uint8Array(cOut))
        const y = g.op1('QLinearConv', [q, s, z, wq(g), ws, wz, out.scale, out.zero], attrs, {
          outType: 'uint8',
        })
        return g.op1('DequantizeLinear', [y, out.scale, out.zero], {}, { outType: 'float32' })
      },
    },
  ]
}

function transposeRows(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c] as number
  return out
}

/**
 * Every variant on the same input, interleaved RUNS times: speed-up over the first (fp32) and error against it; the
 * ratio recorded is fp32 against `chosenName` (the dynamic int8 form a graph could emit).
 */
async function measure(
  label: string,
  dims: number[],
  variants: Variant[],
  chosenName: string,
): Promise<void> {
  const x = floatTensor(
    gaussian(
      dims.reduce((a, b) => a * b, 1),
      1,
      1,
    ),
    dims,
  )
  const sessions: { name: string; session: ort.InferenceSession; times: number[]; err: number }[] = []
  let ref: Float32Array = new Float32Array()
  for (const v of variants) {
    const g = new Graph(v.name)
    g.output(v.build(g, g.input('x', dims), ref), 'y', null)
    const session = await createSession(g.serialize(), { intraOpThreads: THREADS })
    const y = (await session.run({ x })).y?.data as Float32Array
    if (!sessions.length) ref = y
    sessions.push({ name: v.name, session, times: [], err: sessions.length ? relL2(y, ref) : 0 })
  }
  for (let r = 0; r < RUNS; r++)
    for (const s of sessions) {
      const t0 = performance.now()
      await s.session.run({ x })
      s.times.push(performance.now() - t0)
    }
  const [base, ...rest] = sessions.map((s) => ({ ...s, t: median(s.times) }))
  if (!base) return
  const chosen = rest.find((s) => s.name === chosenName)
  const line = rest
    .map((s) => `${s.name} ${(base.t / s.t).toFixed(2)}× (${s.err.toExponential(1)})`)
    .join('; ')
  console.log(`${label}: ${base.name} ${base.t.toFixed(1)} ms; ${line}`)
  if (chosen)
    ratios.push({
      measure: `${base.name} / ${chosen.name} time: ${label}`,
      ratio: base.t / chosen.t,
      detail: `${base.t.toFixed(1)} vs ${chosen.t.toFixed(1)} ms; each candidate's speed-up (error vs fp32): ${line}`,
    })
  await Promise.all(sessions.map((s) => s.session.release()))
}

const LINEAR: [string, number, number, number][] = [
  ['Stage C lite MLP in (M 2·576, K 1536, N 6144)', 1152, 1536, 6144],
  ['Stage C lite MLP out (M 2·576, K 6144, N 1536)', 1152, 6144, 1536],
  ['Stage B lite level 0 MLP in (M 2·128², K 320, N 1280)', 32768, 320, 1280],
  ['Stage B lite level 2 MLP in (M 2·32², K 1152, N 4608)', 2048, 1152, 4608],
  ['Stage A MLP in, one band of rows (M 32·256, K 384, N 1536)', 8192, 384, 1536],
  ['Stage A MLP out, one band of rows (M 32·256, K 1536, N 384)', 8192, 1536, 384],
]
for (const [label, m, k, n] of LINEAR)
  await measure(label, [m, k], linearVariants(k, n), 'MatMulIntegerToFloat')
const CONV: [string, number[], number][] = [
  ['depthwise 3×3, Stage C lite (2, 1536, 24, 24)', [2, 1536, 24, 24], 1536],
  ['depthwise 3×3, Stage B lite level 0 (2, 320, 128, 128)', [2, 320, 128, 128], 320],
  ['depthwise 3×3, Stage A (1, 384, 32, 256)', [1, 384, 32, 256], 384],
  ['dense 3×3, ControlNet (1, 1536, 24, 24)', [1, 1536, 24, 24], 1],
]
for (const [label, dims, group] of CONV)
  await measure(label, dims, convVariants(dims[1] as number, dims[1] as number, group), 'ConvInteger')
report('int8-kernels', ratios)
process.exit(0)
