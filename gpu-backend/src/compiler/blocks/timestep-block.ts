// TimestepBlock: x·(1 + a) + b, with [a, b] = Σ mapper_i(chunk_i of the time embedding).
// Fused: one MatMul over the graph-valued chunks; constant chunks (sca = crp = 0) fold into the bias.
import type { Graph, Value } from '../onnx/graph.ts'
import { add, chunk, concat, linear, mul, reshape, scalar, transpose2d } from '../onnx/ops.ts'
import type { LazyTensor, StateDict } from '../weights/state-dict.ts'
import { type TimeEmbedding, timeEmbeddingValue } from './r-embedding.ts'

interface Mapper {
  w: LazyTensor
  b: LazyTensor
  name: string
}

// x: [B, C, H, W] -> [B, C, H, W]; mappers `${name}.mapper`, `${name}.mapper_${cond}` (2c, c_r)
export function timestepBlock(
  g: Graph,
  x: Value,
  t: TimeEmbedding,
  sd: StateDict,
  name: string,
  c: number,
  conds: string[],
): Value {
  const mappers: Mapper[] = ['mapper', ...conds.map((n) => `mapper_${n}`)].map((m) => ({
    name: `${name}.${m}`,
    w: sd.take(`${name}.${m}.weight`, [2 * c, t.cR]),
    b: sd.take(`${name}.${m}.bias`, [2 * c]),
  }))
  if (mappers.length !== t.parts.length)
    throw new Error(`${name}: ${t.parts.length} time chunks for ${mappers.length} mappers`)
  const ab = g.fused ? fusedMappers(g, t, mappers, c) : plainMappers(g, t, mappers)
  const [a, b] = chunk(g, reshape(g, ab, [0, 2 * c, 1, 1]), 2, 1) as [Value, Value]
  return add(g, mul(g, x, add(g, a, scalar(g, 1))), b)
}

function plainMappers(g: Graph, t: TimeEmbedding, mappers: Mapper[]): Value {
  const all = g.cast(timeEmbeddingValue(g, t), g.floatType)
  const chunks = mappers.length === 1 ? [all] : chunk(g, all, mappers.length, 1)
  return mappers.map((m, i) => linear(g, chunks[i] as Value, m.w, m.b, m.name)).reduce((s, v) => add(g, s, v))
}

function fusedMappers(g: Graph, t: TimeEmbedding, mappers: Mapper[], c: number): Value {
  const live = t.parts.flatMap((p, i) =>
    p instanceof Float32Array ? [] : [{ value: p, m: mappers[i] as Mapper }],
  )
  const folded = t.parts.flatMap((p, i) =>
    p instanceof Float32Array ? [{ row: p, m: mappers[i] as Mapper }] : [],
  )
  const cR = t.cR
  const out = 2 * c
  const input = g.cast(
    live.length === 1
      ? (live[0]?.value as Value)
      : concat(
          g,
          live.map((l) => l.value),
          1,
        ),
    g.floatType,
  )
  const w = g.weight(`${live[0]?.m.name ?? 'mapper'}.fused.weight`, [cR * live.length, out], () => {
    const packed = new Float32Array(cR * live.length * out)
    for (const [i, l] of live.entries()) packed.set(transpose2d(l.m.w.read(), out, cR), i * cR * out)
    return packed
  })
  const bias = g.weight(`${mappers[0]?.name}.fused.bias`, [out], () => {
    const acc = new Float64Array(out)
    for (const m of mappers) for (const [j, v] of m.b.read().entries()) acc[j] = (acc[j] as number) + v
    for (const f of folded) {
      const wf = f.m.w.read()
      for (let j = 0; j < out; j++)
        for (let k = 0; k < cR; k++)
          acc[j] = (acc[j] as number) + (wf[j * cR + k] as number) * (f.row[k] as number)
    }
    return Float32Array.from(acc)
  })
  return add(g, g.op1('MatMul', [input, w]), bias)
}
