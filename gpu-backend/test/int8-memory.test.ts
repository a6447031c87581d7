// int8 weights stay int8 in memory: onnxruntime packs them for its integer GEMM and keeps no float32 copy (which a
// DequantizeLinear -> MatMul graph would get: constant folding materializes the float weights at session creation).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Graph } from '../src/compiler/onnx/graph.ts'
import { linear } from '../src/compiler/onnx/ops.ts'

const session = join(import.meta.dirname, '..', 'src', 'runtime', 'session.ts')

/** RSS a fresh process adds by creating a session of `model` and running it once, in MiB. */
function rssAdded(model: string, k: number): number {
  const child = `import { createSession, floatTensor } from ${JSON.stringify(session)}
const before = process.memoryUsage().rss
const s = await createSession(${JSON.stringify(model)}, { intraOpThreads: 1 })
await s.run({ x: floatTensor(new Float32Array(4 * ${k}), [4, ${k}]) })
console.log((process.memoryUsage().rss - before) / 2 ** 20)`
  return Number(
    execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], {
      encoding: 'utf8',
    }),
  )
}

describe('int8 weights in memory', () => {
  it('a session of an 8192 × 4096 int8 layer adds far less than the 128 MiB of its float32 weights', () => {
    const [k, n] = [8192, 4096]
    const dir = mkdtempSync(join(tmpdir(), 'int8-rss-'))
    const g = new Graph('layer', { dtype: 'int8' })
    const weight = {
      shape: [n, k],
      dtype: 'F32' as const,
      read: () => Float32Array.from({ length: n * k }, (_, i) => Math.sin(i)),
    }
    g.output(linear(g, g.input('x', ['m', k]), weight, undefined, 'fc'), 'y', ['m', n])
    expect(g.int8Layers?.int8).toEqual(['fc'])
    const model = join(dir, 'layer.onnx')
    writeFileSync(model, g.serialize({ externalDataPath: `${model}.data` }))
    const fp32MiB = (k * n * 4) / 2 ** 20
    const added = rssAdded(model, k)
    // The int8 weights are 32 MiB; with their packed copy and the runtime's own allocations they add about 1.4 times that.
    expect(added).toBeGreaterThan(fp32MiB / 4 / 2)
    expect(added).toBeLessThan(fp32MiB / 2)
  })
})
