// Stable Cascade Stage B against the official StageB forward (golden cases/stage_b_fwd_*).
import { readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { readConfigFile } from '../../gpu-backend/src/compiler/models/config.ts'
import { buildStageB, stageBConfig } from '../../gpu-backend/src/compiler/models/stage-b.ts'
import type { GraphOptions } from '../../gpu-backend/src/compiler/onnx/graph.ts'
import { SafetensorsFile } from '../../gpu-backend/src/compiler/weights/safetensors.ts'
import { StateDict } from '../../gpu-backend/src/compiler/weights/state-dict.ts'
import { createSession, floatTensor } from '../../gpu-backend/src/runtime/session.ts'
import {
  checkpointBytes,
  GRAPH_CONSTANT_BYTES,
  goldenPath,
  readCase,
  relErr,
  timeEmbeddingTable,
} from './golden.ts'

// Forward passes: 2e-5 relative with the recorded torch time-embedding table, 5e-4 without (golden README).
const cases = readdirSync(goldenPath('cases')).filter((f) => f.startsWith('stage_b_fwd'))
const VARIANTS: Record<string, GraphOptions> = {
  fused: { fused: true },
  'fused+mha': { fused: true, attention: 'mha' },
  plain: { fused: false },
}
/** Optional forward arguments: a case that sets any of them is checked with them as graph inputs. */
const EXTRA = ['sca', 'pixels']

async function run(casePath: string, opts: GraphOptions): Promise<{ err: number; tolerance: number }> {
  const sd = StateDict.fromSafetensors([SafetensorsFile.open(goldenPath('weights/stage_b_tiny.safetensors'))])
  const cfg = stageBConfig(sd, readConfigFile(goldenPath('configs/stage_b_tiny.json')))
  const c = readCase(casePath)
  const { timeFreqs, tolerance } = timeEmbeddingTable(cfg.cR)
  const g = buildStageB(sd, cfg, {
    ...opts,
    extraInputs: EXTRA.some((n) => c.has(n)),
    ...(timeFreqs ? { timeFreqs } : {}),
  })
  const session = await createSession(g.serialize())
  const batch = c.get('x').shape[0] as number
  // An optional argument the case leaves out is the official default: zeros (pixels of (B, c_pixels, 8, 8)).
  const absent: Record<string, number[]> = { pixels: [batch, cfg.cPixels, 8, 8] }
  const feed = (n: string) => {
    if (c.has(n)) return floatTensor(c.get(n).data, c.get(n).shape)
    const dims = absent[n] ?? [batch]
    return floatTensor(new Float32Array(dims.reduce((a, b) => a * b, 1)), dims)
  }
  const out = await session.run(Object.fromEntries(session.inputNames.map((n) => [n, feed(n)])))
  return { err: relErr(out.eps?.data as Float32Array, c.get('output').data), tolerance }
}

describe('Stage B parity', () => {
  it('finds golden cases', () => expect(cases.length).toBeGreaterThan(0))
  it('reads every size but the heads and the patch off the checkpoint', () => {
    const sd = StateDict.fromSafetensors([
      SafetensorsFile.open(goldenPath('weights/stage_b_tiny.safetensors')),
    ])
    const kwargs = readConfigFile(goldenPath('configs/stage_b_tiny.json'))
    const detected = stageBConfig(sd, { nhead: kwargs.nhead, patch_size: kwargs.patch_size })
    expect(detected).toEqual(stageBConfig(sd, kwargs))
  })
  it('stores each checkpoint weight once, however often block_repeat applies its block', () => {
    const sd = () =>
      StateDict.fromSafetensors([SafetensorsFile.open(goldenPath('weights/stage_b_tiny.safetensors'))])
    const kwargs = readConfigFile(goldenPath('configs/stage_b_tiny.json'))
    const repeats = (kwargs.block_repeat as number[][]).flat()
    expect(Math.max(...repeats)).toBeGreaterThan(1) // the golden config repeats blocks, or this proves nothing
    const bytes = checkpointBytes(sd())
    for (const opts of Object.values(VARIANTS)) {
      const weights = sd()
      const g = buildStageB(weights, stageBConfig(weights, kwargs), opts)
      expect(g.initializerBytes).toBeLessThan(bytes + GRAPH_CONSTANT_BYTES)
    }
  })
  for (const f of cases)
    for (const [label, opts] of Object.entries(VARIANTS))
      it(`${f} (${label})`, async () => {
        const { err, tolerance } = await run(goldenPath('cases', f), opts)
        console.log(`${f} ${label}: max rel err ${err.toExponential(2)}`)
        expect(err).toBeLessThan(tolerance)
      })
})
