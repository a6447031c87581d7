// Stable Cascade Stage C against the official StageC forward (golden cases/stage_c_fwd_*).
import { readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { readConfigFile } from '../../gpu-backend/src/compiler/models/config.ts'
import { buildStageC, stageCConfig } from '../../gpu-backend/src/compiler/models/stage-c.ts'
import { SafetensorsFile } from '../../gpu-backend/src/compiler/weights/safetensors.ts'
import { StateDict } from '../../gpu-backend/src/compiler/weights/state-dict.ts'
import { createSession, floatTensor } from '../../gpu-backend/src/runtime/session.ts'
import {
  checkpointBytes,
  goldenExists,
  goldenPath,
  readCase,
  relErr,
  storedBytes,
  timeEmbeddingTable,
} from './golden.ts'

// Forward passes: 2e-5 relative with the recorded torch time-embedding table, 5e-4 without (golden README).
const cases = readdirSync(goldenPath('cases')).filter((f) => f.startsWith('stage_c_fwd'))

async function run(weights: string, casePath: string, outputName: string, fused: boolean) {
  const sd = StateDict.fromSafetensors([SafetensorsFile.open(goldenPath('weights', weights))])
  const cfg = stageCConfig(sd, readConfigFile(goldenPath('configs/stage_c_tiny.json')))
  const c = readCase(casePath)
  const { timeFreqs, tolerance } = timeEmbeddingTable(cfg.cR)
  const g = buildStageC(sd, cfg, { extraInputs: c.has('sca'), fused, ...(timeFreqs ? { timeFreqs } : {}) })
  const session = await createSession(g.serialize())
  const feeds = Object.fromEntries(
    session.inputNames.map((n) => [n, floatTensor(c.get(n).data, c.get(n).shape)]),
  )
  const out = await session.run(feeds)
  return { err: relErr(out.eps?.data as Float32Array, c.get(outputName).data), tolerance }
}

describe('Stage C parity', () => {
  it('finds golden cases', () => expect(cases.length).toBeGreaterThan(0))
  it("stores attention weights once (the condition tokens' keys and values reuse in_proj)", () => {
    const attention = /\.attention\.attn\./
    for (const fused of [true, false]) {
      const sd = StateDict.fromSafetensors([
        SafetensorsFile.open(goldenPath('weights/stage_c_tiny.safetensors')),
      ])
      const bytes = checkpointBytes(sd, attention)
      expect(bytes).toBeGreaterThan(0)
      const g = buildStageC(sd, stageCConfig(sd, readConfigFile(goldenPath('configs/stage_c_tiny.json'))), {
        fused,
      })
      expect(storedBytes(g, attention)).toBe(bytes)
    }
  })
  for (const f of cases)
    for (const fused of [true, false])
      it(`${f} (${fused ? 'fused' : 'plain'})`, async () => {
        const { err, tolerance } = await run(
          'stage_c_tiny.safetensors',
          goldenPath('cases', f),
          'output',
          fused,
        )
        console.log(`${f} ${fused ? 'fused' : 'plain'}: max rel err ${err.toExponential(2)}`)
        expect(err).toBeLessThan(tolerance)
      })
  it('bf16 weights reproduce output_bf16_weights', async () => {
    const withBf16 = cases
      .map((f) => goldenPath('cases', f))
      .filter((p) => readCase(p).has('output_bf16_weights'))
    // A set ships the bf16 checkpoint exactly when some case records its output.
    expect(withBf16.length > 0).toBe(goldenExists('weights', 'stage_c_tiny_bf16.safetensors'))
    for (const p of withBf16) {
      const { err, tolerance } = await run('stage_c_tiny_bf16.safetensors', p, 'output_bf16_weights', true)
      console.log(`${p} bf16 weights: max rel err ${err.toExponential(2)}`)
      expect(err).toBeLessThan(tolerance)
    }
  })
})
