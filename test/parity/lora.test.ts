// LoRA merged at conversion against the official apply_lora forward (golden image/cases/stage_c_lora_forward),
// through the command a user types: `cascade convert --stage c --lora file[:strength]`. Both files of the set
// (official and community format) hold the same deltas and must give the same outputs.
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { createSession, floatTensor } from '../../gpu-backend/src/runtime/session.ts'
import { goldenPath, readCase, relErr } from './golden.ts'

const run = promisify(execFile)
const root = join(import.meta.dirname, '..', '..')
const TOLERANCE = 5e-4
const casePath = goldenPath('image', 'cases', 'stage_c_lora_forward.safetensors')
const loraFiles = readdirSync(goldenPath('image', 'weights')).filter((f) => /^lora_.*\.safetensors$/.test(f))

/** `output` is strength 1; `output_strength_<s>` the others the set recorded. */
function strengths(names: string[]): [number, string][] {
  return names.flatMap((n): [number, string][] => {
    if (n === 'output') return [[1, n]]
    const m = /^output_strength_(.+)$/.exec(n)
    return m ? [[Number(m[1]), n]] : []
  })
}

async function convertAndRun(lora: string | undefined, strength: number) {
  const out = mkdtempSync(join(tmpdir(), 'lora-parity-'))
  const args = [
    join(root, 'gpu-backend/bin/cascade.mjs'),
    'convert',
    '--family',
    'stable-cascade',
    '--stage',
    'c',
    '--weights',
    goldenPath('weights', 'stage_c_tiny.safetensors'),
    '--config',
    goldenPath('configs', 'stage_c_tiny.json'),
    ...(lora ? ['--lora', `${goldenPath('image', 'weights', lora)}:${strength}`] : []),
    '--out',
    out,
  ]
  await run(process.execPath, args, { cwd: root })
  const c = readCase(casePath)
  const session = await createSession(join(out, 'stage_c.onnx'))
  const feeds = Object.fromEntries(
    session.inputNames.map((n) => [n, floatTensor(c.get(n).data, c.get(n).shape)]),
  )
  return { eps: (await session.run(feeds)).eps?.data as Float32Array, c }
}

describe('LoRA parity (cascade convert --lora)', () => {
  const recorded = strengths([...readCase(casePath).file.tensors.keys()])
  it('finds both LoRA files and the recorded strengths', () => {
    expect(loraFiles.length).toBeGreaterThanOrEqual(2)
    expect(recorded.map(([s]) => s)).toContain(1)
    expect(recorded.length).toBeGreaterThan(1)
  })
  it('without --lora the graph gives output_without_lora, which the LoRA changes', async () => {
    const { eps, c } = await convertAndRun(undefined, 1)
    expect(relErr(eps, c.get('output_without_lora').data)).toBeLessThan(TOLERANCE)
    expect(relErr(c.get('output').data, c.get('output_without_lora').data)).toBeGreaterThan(100 * TOLERANCE)
  })
  for (const file of loraFiles)
    for (const [strength, name] of recorded)
      it(`${file} at strength ${strength} gives ${name}`, async () => {
        const { eps, c } = await convertAndRun(file, strength)
        const err = relErr(eps, c.get(name).data)
        console.log(`${file} strength ${strength}: max rel err ${err.toExponential(2)}`)
        expect(err).toBeLessThan(TOLERANCE)
      })
})
