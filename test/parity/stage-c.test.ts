// Stable Cascade Stage C against the official StageC forward (golden cases/stage_c_fwd_*).
import { readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { readConfigFile } from '../../gpu-backend/src/compiler/models/config.ts'
import { buildStageC, stageCConfig } from '../../gpu-backend/src/compiler/models/stage-c.ts'
import { SafetensorsFile } from '../../gpu-backend/src/compiler/weights/safetensors.ts'
import { StateDict } from '../../gpu-backend/src/compiler/weights/state-dict.ts'
import { createSession, floatTensor } from '../../gpu-backend/src/runtime/session.ts'
import { goldenPath, readCase, relErr } from './golden.ts'

// Forward passes: 2e-5 relative with torch's time-embedding table (built into the converter for c_r = 64).
const TOL = 2e-5
const cases = readdirSync(goldenPath('cases')).filter((f) => f.startsWith('stage_c_fwd'))

async function run(weights: string, casePath: string, outputName: string, fused: boolean) {
  const sd = StateDict.fromSafetensors([SafetensorsFile.open(goldenPath('weights', weights))])
  const cfg = stageCConfig(sd, readConfigFile(goldenPath('configs/stage_c_tiny.json')))
  const c = readCase(casePath)
  const g = buildStageC(sd, cfg, { extraInputs: c.has('sca'), fused })
  const session = await createSession(g.serialize())
  const feeds = Object.fromEntries(
    session.inputNames.map((n) => [n, floatTensor(c.get(n).data, c.get(n).shape)]),
  )
  const out = await session.run(feeds)
  return relErr(out.eps?.data as Float32Array, c.get(outputName).data)
}

describe('Stage C parity', () => {
  it('finds golden cases', () => expect(cases.length).toBeGreaterThan(0))
  for (const f of cases)
    for (const fused of [true, false])
      it(`${f} (${fused ? 'fused' : 'plain'})`, async () => {
        const err = await run('stage_c_tiny.safetensors', goldenPath('cases', f), 'output', fused)
        console.log(`${f} ${fused ? 'fused' : 'plain'}: max rel err ${err.toExponential(2)}`)
        expect(err).toBeLessThan(TOL)
      })
  it('bf16 weights reproduce output_bf16_weights', async () => {
    const withBf16 = cases
      .map((f) => goldenPath('cases', f))
      .filter((p) => readCase(p).has('output_bf16_weights'))
    expect(withBf16.length).toBeGreaterThan(0)
    for (const p of withBf16)
      expect(await run('stage_c_tiny_bf16.safetensors', p, 'output_bf16_weights', true)).toBeLessThan(TOL)
  })
})
