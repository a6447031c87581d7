// Every graph of both tiny families (the tile graphs too) on WebGPU against the CPU provider, on the same random inputs: within 1e-4
// relative (max |diff| / max |cpu|). The reference runs the graph as written (onnxruntime's graph optimizations
// off): the CPU provider's own fusions reorder float operations, which moves the tiny Würstchen v2 prior, whose
// output divides by |1 − b| + 1e-5, by 1.1e-4 between its own optimization levels; WebGPU's result equals the
// unfused one. Float32 only: SwiftShader has no shader-f16 (providers.test.ts).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { rng } from '../../gpu-backend/src/compiler/make-tiny.ts'
import type { Manifest } from '../../gpu-backend/src/compiler/manifest.ts'
import { createSession, ort } from '../../gpu-backend/src/runtime/session.ts'
import { relErr } from '../parity/golden.ts'
import { FAMILIES, tinyModel } from './tiny-models.ts'

const TOL = 1e-4

/** Sizes of the dynamic axes, by graph (the longest matching name prefix: a tile graph takes its plain graph's) and axis. */
const AXES: [prefix: string, axes: Record<string, number>][] = [
  ['', { batch: 2, seq: 77, images: 2 }],
  // Stage C's ControlNet inputs come at any size: they are resized inside.
  ['stage_c', { height: 5, width: 3, cnet_height: 6, cnet_width: 4 }],
  // Stage B's effnet need not match its latent either.
  ['stage_b', { height: 16, width: 32, effnet_height: 5, effnet_width: 3 }],
  ['stage_a_decoder', { latent_height: 12, latent_width: 8 }],
  ['stage_a_encoder', { image_height: 48, image_width: 32 }],
  ['effnet_encoder', { height: 64, width: 96 }],
  ['controlnet', { height: 64, width: 96 }],
  ['previewer', { height: 3, width: 2 }],
]

function axisSize(graph: string, axis: string): number | undefined {
  const name = axis.replace(/^cnet_\d+_/, 'cnet_')
  return AXES.filter(([prefix, axes]) => graph.startsWith(prefix) && name in axes).at(-1)?.[1][name]
}

function feedsFor(graph: string, session: ort.InferenceSession, seed: number): Record<string, ort.Tensor> {
  const rand = rng(seed)
  const feeds: Record<string, ort.Tensor> = {}
  for (const m of session.inputMetadata) {
    if (!m.isTensor) throw new Error(`${graph}: ${m.name} is not a tensor`)
    const dims = m.shape.map((d) => (typeof d === 'number' ? d : (axisSize(graph, d) ?? Number.NaN)))
    if (dims.some(Number.isNaN)) throw new Error(`${graph}: no size for an axis of ${m.name} [${m.shape}]`)
    const n = dims.reduce((a, b) => a * b, 1)
    if (m.name === 'input_ids')
      // Token ids below the tiny vocabulary, then the end token's padding.
      feeds[m.name] = new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 77 < 9 ? Math.floor(rand() * 256) : 0)),
        dims,
      )
    else if (m.name === 'attention_mask')
      feeds[m.name] = new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: n }, (_, i) => (i % 77 < 10 ? 1n : 0n)),
        dims,
      )
    else if (m.name === 'tiling') feeds[m.name] = new ort.Tensor('bool', Uint8Array.of(1, 1), dims)
    else if (m.name === 'r')
      feeds[m.name] = new ort.Tensor(
        'float32',
        Float32Array.from({ length: n }, () => rand()),
        dims,
      )
    else
      feeds[m.name] = new ort.Tensor(
        'float32',
        Float32Array.from({ length: n }, () => 2 * rand() - 1),
        dims,
      )
  }
  return feeds
}

describe.each(FAMILIES)('%s: every graph on WebGPU equals the CPU provider', async (family) => {
  const dir = await tinyModel(family)
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest
  it.each(Object.keys(manifest.graphs))('%s', async (graph) => {
    const path = join(dir, (manifest.graphs[graph] as { file: string }).file)
    const cpu = await createSession(path, { provider: 'cpu', optimization: 'disabled' })
    const gpu = await createSession(path, { provider: 'webgpu' })
    const feeds = feedsFor(graph, cpu, 7)
    const want = await cpu.run(feeds)
    const got = await gpu.run(feeds)
    for (const name of cpu.outputNames) {
      const err = relErr(got[name]?.data as Float32Array, want[name]?.data as Float32Array)
      console.log(`${family} ${graph}.${name}: ${err.toExponential(2)}`)
      expect(err, `${graph}.${name}`).toBeLessThan(TOL)
    }
    await Promise.all([cpu.release(), gpu.release()])
  })
})
