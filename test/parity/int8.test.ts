// int8 graphs (--dtype int8) against the fp32 graphs of the same golden weights, on the golden forward inputs, and
// --keep-fp32: the layers a pattern names keep float32 weights and a float MatMul, the others become int8.
//
// Tolerance: activations are quantized per tensor to 8 bits per call, so each int8 layer adds a relative error of
// about 0.3–1 % to its output (more on the golden models' 16–64-wide layers than at the released widths); through
// the 8–50 int8 layers of a golden graph they add up to 1–3 % (relative L2 against the fp32 graph). INT8_TOL bounds
// that; at the released sizes bench/int8.ts measures the same quantity (target 1e-2).
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Family } from '../../gpu-backend/src/compiler/manifest.ts'
import { readConfigFile } from '../../gpu-backend/src/compiler/models/config.ts'
import type { Graph, GraphOptions } from '../../gpu-backend/src/compiler/onnx/graph.ts'
import { onnx } from '../../gpu-backend/src/compiler/onnx/proto.ts'
import { loadCheckpoint, type StageId, stageSpec } from '../../gpu-backend/src/compiler/stages.ts'
import { relL2 } from '../../gpu-backend/src/pipeline/image-metrics.ts'
import { createSession, floatTensor, ort } from '../../gpu-backend/src/runtime/session.ts'
import { GOLDEN_DIR, readCase, V2_DIR } from './golden.ts'

const INT8_TOL = 5e-2

interface GoldenModel {
  family: Family
  stage: StageId
  weights: string
  config: string
  /** Case files (by prefix) in `dir`, and the graph of the stage they exercise. */
  dir: string
  prefix: string
  graph: string
}

const SC_CASES = join(GOLDEN_DIR, 'cases')
const sc = (stage: StageId, name: string, prefix: string, graph: string): GoldenModel => ({
  family: 'stable-cascade',
  stage,
  weights: join(GOLDEN_DIR, `weights/${name}.safetensors`),
  config: join(GOLDEN_DIR, `configs/${name}.json`),
  dir: SC_CASES,
  prefix,
  graph,
})
const v2 = (stage: StageId, name: string, graph: string): GoldenModel => ({
  family: 'wuerstchen-v2',
  stage,
  weights: join(V2_DIR, `${name}_weights.safetensors`),
  config: join(V2_DIR, `configs/${name}.json`),
  dir: V2_DIR,
  prefix: `${name}_forward`,
  graph,
})
const MODELS: GoldenModel[] = [
  sc('text', 'clip_text_tiny', 'clip_text', 'text_encoder.onnx'),
  sc('c', 'stage_c_tiny', 'stage_c_fwd', 'stage_c.onnx'),
  sc('b', 'stage_b_tiny', 'stage_b_fwd', 'stage_b.onnx'),
  sc('a', 'stage_a_tiny', 'stage_a_decode', 'stage_a_decoder.onnx'),
  sc('a', 'stage_a_tiny', 'stage_a_encode', 'stage_a_encoder.onnx'),
  v2('c', 'prior', 'stage_c.onnx'),
  v2('b', 'decoder', 'stage_b.onnx'),
]

/** Inputs a case may leave out (the official defaults): pixels (B, 3, 8, 8) and sca / crp (B), all zeros. */
const OPTIONAL: Record<string, (batch: number) => number[]> = {
  pixels: (b) => [b, 3, 8, 8],
  sca: (b) => [b],
  crp: (b) => [b],
}

function build(m: GoldenModel, opts: GraphOptions & { extraInputs?: boolean }): Graph {
  const sd = loadCheckpoint([m.weights])
  const built = stageSpec(m.family, m.stage).build(sd, readConfigFile(m.config), opts)
  const b = built.find((x) => x.file === m.graph)
  if (!b) throw new Error(`${m.stage} builds no ${m.graph}`)
  return b.graph
}

async function run(g: Graph, casePath: string): Promise<Record<string, Float32Array>> {
  const c = readCase(casePath)
  const session = await createSession(g.serialize())
  const batch = c.file.get(session.inputNames.find((n) => c.has(n)) as string).shape[0] as number
  const feed = (n: string) => {
    if (!c.has(n)) {
      const dims = (OPTIONAL[n] as (b: number) => number[])(batch)
      return floatTensor(new Float32Array(dims.reduce((a, b) => a * b, 1)), dims)
    }
    const t = c.file.get(n)
    return t.dtype === 'I64'
      ? new ort.Tensor('int64', c.file.readInt64(n), t.shape)
      : floatTensor(c.get(n).data, t.shape)
  }
  const out = await session.run(Object.fromEntries(session.inputNames.map((n) => [n, feed(n)])))
  return Object.fromEntries(session.outputNames.map((n) => [n, out[n]?.data as Float32Array]))
}

describe('int8 graphs against fp32 on the golden forwards', () => {
  for (const m of MODELS) {
    const cases = readdirSync(m.dir).filter((f) => f.startsWith(m.prefix) && f.endsWith('.safetensors'))
    it(`${m.family} ${m.graph}: finds golden cases`, () => expect(cases.length).toBeGreaterThan(0))
    for (const f of cases)
      it(`${m.family} ${m.graph} ${f}: within ${INT8_TOL} (relative L2) of fp32`, async () => {
        const c = readCase(join(m.dir, f))
        const extraInputs = ['sca', 'crp', 'pixels'].some((n) => c.has(n))
        const fp32 = build(m, { extraInputs })
        const int8 = build(m, { extraInputs, dtype: 'int8' })
        const quantized = int8.int8Layers?.int8 ?? []
        // Every int8 layer is a MatMulIntegerToFloat (a module applied twice, Stage B's repeats, is two).
        const nodes = int8.opTypes().filter((t) => t === 'MatMulIntegerToFloat').length
        expect(quantized.length).toBeGreaterThan(0)
        expect(nodes).toBeGreaterThanOrEqual(quantized.length)
        expect(int8.initializerBytes).toBeLessThan(fp32.initializerBytes)
        const [ref, got] = [await run(fp32, join(m.dir, f)), await run(int8, join(m.dir, f))]
        for (const [name, r] of Object.entries(ref)) {
          const err = relL2(got[name] as Float32Array, r)
          expect(err, `${name}`).toBeLessThan(INT8_TOL)
          expect(err, `${name}: int8 changes the result`).toBeGreaterThan(0)
        }
      })
  }
})

describe('int8 graphs quantized in blocks (--int8-block 32) against fp32', () => {
  for (const m of MODELS) {
    const [f] = readdirSync(m.dir).filter((x) => x.startsWith(m.prefix) && x.endsWith('.safetensors'))
    it(`${m.family} ${m.graph} ${f}: MatMulNBits layers, within ${INT8_TOL} of fp32`, async () => {
      const c = readCase(join(m.dir, f as string))
      const extraInputs = ['sca', 'crp', 'pixels'].some((n) => c.has(n))
      const blocks = build(m, { extraInputs, dtype: 'int8', int8Block: 32 })
      const ops = blocks.opTypes()
      expect(ops.filter((t) => t === 'MatMulNBits').length).toBeGreaterThanOrEqual(
        blocks.int8Layers?.int8.length ?? 1,
      )
      expect(ops).not.toContain('MatMulIntegerToFloat')
      const [ref, got] = [
        await run(build(m, { extraInputs }), join(m.dir, f as string)),
        await run(blocks, join(m.dir, f as string)),
      ]
      for (const [name, r] of Object.entries(ref)) {
        const err = relL2(got[name] as Float32Array, r)
        expect(err, name).toBeLessThan(INT8_TOL)
        expect(err, name).toBeGreaterThan(0)
      }
    })
  }
})

/**
 * The initializers and the MatMul-like nodes that compute layer `name` in a serialized graph (an int8 layer over a
 * concatenation is one MatMulIntegerToFloat per part, `name:<k>`).
 */
function layerOf(model: ReturnType<typeof onnx.ModelProto.decode>, name: string) {
  const own = (n: string) => n === name || new RegExp(`^${name.replace(/\./g, '\\.')}:\\d+$`).test(n)
  const inits = model.graph?.initializer ?? []
  const nodes = model.graph?.node ?? []
  return {
    int8: inits.some(
      (t) =>
        (t.name as string).endsWith('.weight_int8') &&
        own((t.name as string).slice(0, -'.weight_int8'.length)) &&
        t.dataType === onnx.TensorProto.DataType.INT8,
    ),
    fp32: inits.some((t) => t.name === `${name}.weight` && t.dataType === onnx.TensorProto.DataType.FLOAT),
    integerNode: nodes.some((n) => n.opType === 'MatMulIntegerToFloat' && own(n.name as string)),
    floatNode: nodes.some(
      (n) => (n.opType === 'MatMul' || n.opType === 'Conv') && n.input?.includes(`${name}.weight`),
    ),
  }
}

describe('--keep-fp32', () => {
  const stageC = MODELS[1] as GoldenModel
  const keep = ['*.attention.attn.out_proj', 'stage_c/clf.1', 'stage_b/embedding.1', 'down_blocks.0.0.*']
  const g = build(stageC, { dtype: 'int8', keepFp32: keep })
  const model = onnx.ModelProto.decode(g.serialize())

  it('keeps every layer a pattern names in float32, in this graph only, and makes the rest int8', () => {
    const kept = g.int8Layers?.fp32 ?? []
    expect(kept).toContain('clf.1')
    expect(kept).toContain('down_blocks.0.0.channelwise.0')
    expect(kept.filter((n) => n.endsWith('.attention.attn.out_proj')).length).toBeGreaterThan(1)
    expect(g.int8Layers?.int8).toContain('embedding.1') // stage_b/… does not reach Stage C
    for (const name of kept)
      expect(layerOf(model, name), name).toEqual({
        int8: false,
        fp32: true,
        integerNode: false,
        floatNode: true,
      })
    for (const name of g.int8Layers?.int8 ?? [])
      expect(layerOf(model, name), name).toEqual({
        int8: true,
        fp32: false,
        integerNode: true,
        floatNode: false,
      })
  })

  it("a ResBlock's first layer over [norm, skip] multiplies each part with its own activation scale", () => {
    const nodes = model.graph?.node ?? []
    const parts = nodes.filter((n) => /^up_blocks\.\d+\.0\.channelwise\.0:\d$/.test(n.name as string))
    expect(parts.map((n) => n.name).sort()).toEqual([
      'up_blocks.1.0.channelwise.0:0',
      'up_blocks.1.0.channelwise.0:1',
    ])
    expect(parts.every((n) => n.opType === 'MatMulIntegerToFloat')).toBe(true)
    // Inputs 0 and 2: the quantized activations and their scale, from two DynamicQuantizeLinear nodes.
    const [a, b] = parts as [(typeof parts)[0], (typeof parts)[0]]
    expect(a.input?.[2]).not.toBe(b.input?.[2])
    const quantizers = new Set(
      nodes.filter((n) => n.opType === 'DynamicQuantizeLinear').flatMap((n) => n.output),
    )
    expect(quantizers.has(a.input?.[2] as string) && quantizers.has(b.input?.[2] as string)).toBe(true)
  })

  it('with no pattern every linear and 1×1 layer is int8, and fp32 graphs have none', () => {
    const all = build(stageC, { dtype: 'int8', keepFp32: [] })
    expect(all.int8Layers?.fp32).toEqual([])
    expect(all.int8Layers?.int8.length).toBe(
      (g.int8Layers?.int8.length ?? 0) + (g.int8Layers?.fp32.length ?? 0),
    )
    const fp32 = build(stageC, {})
    expect(fp32.int8Layers).toBeUndefined()
    expect(fp32.opTypes()).not.toContain('MatMulIntegerToFloat')
  })
})
