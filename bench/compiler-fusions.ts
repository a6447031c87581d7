// What the compiler's fusions buy: each Stage C / Stage B graph built fused (packed projections,
// folded constant conditions and pixels term), fused with com.microsoft MultiHeadAttention, and plain
// (the official op sequence), from the same random weights, timed side by side in one run. Also what seamless
// tiling costs: the fused tile graph (circular borders, blocks/borders.ts) run with both axes wrapping.
// Outputs are checked to agree first (the tile graph with no axis wrapping), so a fast wrong graph cannot win.
import { performance } from 'node:perf_hooks'
import { randomCheckpoint, rng, seededDraw, tinyConfig } from '../gpu-backend/src/compiler/make-tiny.ts'
import type { Kwargs } from '../gpu-backend/src/compiler/models/config.ts'
import { type StageId, stageSpec } from '../gpu-backend/src/compiler/stages.ts'
import { StateDict } from '../gpu-backend/src/compiler/weights/state-dict.ts'
import { createSession, floatTensor, ort } from '../gpu-backend/src/runtime/session.ts'
import { relErr } from '../test/parity/golden.ts'
import { MID_SC } from './lib/models.ts'
import { median, type Ratio, report } from './lib/report.ts'

interface Case {
  label: string
  stage: StageId
  kwargs: Kwargs
  inputs: Record<string, number[]>
}

const B = 2
const cases: Case[] = [
  {
    label: 'Stage C tiny (c 64) @ 24×24',
    stage: 'c',
    kwargs: tinyConfig('stable-cascade', 'c'),
    inputs: {
      x: [B, 16, 24, 24],
      r: [B],
      clip_text: [B, 77, 64],
      clip_text_pooled: [B, 1, 32],
      clip_img: [B, 1, 24],
    },
  },
  {
    label: 'Stage C mid (c 512, 12 blocks) @ 24×24',
    stage: 'c',
    // The mid model's Stage C (bench/lib/models.ts) with the released text widths.
    kwargs: {
      ...tinyConfig('stable-cascade', 'c'),
      ...MID_SC.c,
      c_clip_text: 1280,
      c_clip_text_pooled: 1280,
      c_clip_img: 768,
    },
    inputs: {
      x: [B, 16, 24, 24],
      r: [B],
      clip_text: [B, 77, 1280],
      clip_text_pooled: [B, 1, 1280],
      clip_img: [B, 1, 768],
    },
  },
  {
    label: 'Stage B tiny (c 16..32) @ 64×64',
    stage: 'b',
    kwargs: tinyConfig('stable-cascade', 'b'),
    inputs: { x: [B, 4, 64, 64], r: [B], effnet: [B, 16, 6, 6], clip: [B, 1, 32] },
  },
  {
    label: 'Stage B mid (c 96..384) @ 128×128',
    stage: 'b',
    kwargs: {
      ...tinyConfig('stable-cascade', 'b'),
      c_cond: 384,
      c_hidden: [96, 192, 384, 384],
      nhead: [-1, -1, 6, 6],
      blocks: [
        [1, 2, 4, 2],
        [2, 4, 2, 1],
      ],
      block_repeat: [
        [1, 1, 1, 1],
        [2, 2, 2, 2],
      ],
      c_clip: 1280,
    },
    inputs: { x: [B, 4, 128, 128], r: [B], effnet: [B, 16, 12, 12], clip: [B, 1, 1280] },
  },
]

function feeds(shapes: Record<string, number[]>, rand: () => number): Record<string, ort.Tensor> {
  return Object.fromEntries(
    Object.entries(shapes).map(([n, dims]) => {
      const len = dims.reduce((a, b) => a * b, 1)
      const data = Float32Array.from({ length: len }, () => (n === 'r' ? rand() : rand() * 2 - 1))
      return [n, floatTensor(data, dims)]
    }),
  )
}

const runs = Number(process.env.BENCH_RUNS ?? 7)

console.log(`compiler fusions: fp32, CPU EP, batch ${B}, median of ${runs} interleaved runs`)
console.log(
  'graph | fused ms | fused+MHA ms | plain ms | plain/fused | plain/(fused+MHA) | fused nodes | plain nodes',
)
const ratios: Ratio[] = []
for (const c of cases) {
  let spec: ReturnType<typeof stageSpec>
  try {
    spec = stageSpec('stable-cascade', c.stage)
  } catch (e) {
    console.log(`${c.label} | skipped: ${(e as Error).message}`)
    continue
  }
  const rand = rng(1)
  const tensors = Object.fromEntries(
    randomCheckpoint('stable-cascade', c.stage, c.kwargs, seededDraw(rand)).map(([k, t]) => [
      k,
      { shape: t.shape, data: t.data as Float32Array },
    ]),
  )
  const variants = (
    [
      ['fused', { fused: true }],
      ['fused+MHA', { fused: true, attention: 'mha' }],
      ['plain', { fused: false }],
      ['tile', { fused: true, tiling: true }],
    ] as const
  ).map(([name, opts]) => {
    const [b] = spec.build(StateDict.fromTensors(c.label, tensors), c.kwargs, opts)
    if (!b) throw new Error('no graph')
    return { name, graph: b.graph, times: [] as number[] }
  })
  const sessions = await Promise.all(variants.map((v) => createSession(v.graph.serialize())))
  const input = feeds(c.inputs, rand)
  const wrap = (on: boolean) => new ort.Tensor('bool', Uint8Array.of(on ? 1 : 0, on ? 1 : 0), [2])
  const inputOf = (j: number, on: boolean) =>
    variants[j]?.name === 'tile' ? { ...input, tiling: wrap(on) } : input
  const outs = await Promise.all(
    sessions.map(async (s, j) => (await s.run(inputOf(j, false))).eps?.data as Float32Array),
  )
  for (const [i, o] of outs.entries()) {
    const err = relErr(o, outs[2] as Float32Array)
    if (!(err < 1e-4)) throw new Error(`${c.label}: ${variants[i]?.name} and plain graphs disagree (${err})`)
  }
  for (let i = 0; i < runs; i++)
    for (const [j, s] of sessions.entries()) {
      const t0 = performance.now()
      await s.run(inputOf(j, true))
      variants[j]?.times.push(performance.now() - t0)
    }
  const [f, m, p, t] = variants.map((v) => median(v.times)) as [number, number, number, number]
  console.log(
    `${c.label} | ${f.toFixed(1)} | ${m.toFixed(1)} | ${p.toFixed(1)} | ${(p / f).toFixed(2)}x | ${(p / m).toFixed(2)}x | ${variants[0]?.graph.nodeCount} | ${variants[2]?.graph.nodeCount}`,
  )
  ratios.push({
    measure: `compiled graph speed, plain / fused: ${c.label}`,
    ratio: p / f,
    detail: `plain ${p.toFixed(1)} ms (${variants[2]?.graph.nodeCount} nodes), fused ${f.toFixed(1)} ms (${variants[0]?.graph.nodeCount} nodes), fused+MHA ${m.toFixed(1)} ms`,
  })
  console.log(`${c.label} | tile graph, both axes wrapping: ${t.toFixed(1)} ms, ${(t / f).toFixed(2)}x fused`)
  ratios.push({
    measure: `tile graph / fused graph (both axes wrap): ${c.label}`,
    ratio: t / f,
    detail: `tile ${t.toFixed(1)} ms (${variants[3]?.graph.nodeCount} nodes), fused ${f.toFixed(1)} ms`,
  })
}
report('compiler-fusions', ratios)
