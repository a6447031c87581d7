// Every graph of both tiny families on WebGPU against the CPU provider, on the same random inputs: within 1e-4
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

/** Sizes for the dynamic axes, per graph (Stage B's effnet need not match its latent: it is resized inside). */
const AXES: Record<string, Record<string, number>> = {
  text_encoder: { batch: 2 },
  text_encoder_2: { batch: 2 },
  stage_c: { batch: 2, height: 5, width: 3, seq: 77, images: 1 },
  stage_b: { batch: 2, height: 16, width: 32, effnet_height: 5, effnet_width: 3, seq: 77 },
  stage_a_decoder: { batch: 2, latent_height: 12, latent_width: 8 },
  stage_a_encoder: { batch: 2, image_height: 48, image_width: 32 },
}

function feedsFor(graph: string, session: ort.InferenceSession, seed: number): Record<string, ort.Tensor> {
  const rand = rng(seed)
  const feeds: Record<string, ort.Tensor> = {}
  for (const m of session.inputMetadata) {
    if (!m.isTensor) throw new Error(`${graph}: ${m.name} is not a tensor`)
    const dims = m.shape.map((d) => (typeof d === 'number' ? d : (AXES[graph]?.[d] ?? Number.NaN)))
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

describe.each(FAMILIES)('%s: every graph on WebGPU equals the CPU provider', (family) => {
  const dir = tinyModel(family)
  const manifest = (async () =>
    JSON.parse(readFileSync(join(await dir, 'manifest.json'), 'utf8')) as Manifest)()
  const graphs = Object.keys(AXES)
  it.each(graphs)('%s', async (graph) => {
    const entry = (await manifest).graphs[graph]
    if (!entry) {
      expect(graph === 'text_encoder_2' && family === 'stable-cascade', `${family} has no ${graph}`).toBe(
        true,
      )
      return
    }
    const path = join(await dir, entry.file)
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
