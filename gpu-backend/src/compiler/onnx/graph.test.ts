import { mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createSession, floatTensor } from '../../runtime/session.ts'
import { StateDict } from '../weights/state-dict.ts'
import { Graph } from './graph.ts'
import { linear } from './ops.ts'

// y = x·Wᵀ + b for a (out=3, in=4) Linear.
function linearGraph(): Graph {
  const w = Float32Array.from({ length: 12 }, (_, i) => i - 5)
  const b = Float32Array.from([0.5, -1, 2])
  const sd = StateDict.fromTensors('t', {
    'l.weight': { shape: [3, 4], data: w },
    'l.bias': { shape: [3], data: b },
  })
  const g = new Graph('linear')
  const x = g.input('x', ['batch', 4])
  g.output(linear(g, x, sd.take('l.weight', [3, 4]), sd.take('l.bias', [3]), 'l'), 'y', ['batch', 3])
  return g
}
const expected = [
  1 * -5 + 2 * -4 + 3 * -3 + 4 * -2 + 0.5,
  1 * -1 + 2 * 0 + 3 * 1 + 4 * 2 - 1,
  1 * 3 + 2 * 4 + 3 * 5 + 4 * 6 + 2,
]

describe('Graph serialization', () => {
  it('writes initializers as external data beside the model (what models over 2 GB need)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ext-'))
    const bytes = linearGraph().serialize({ externalDataPath: join(dir, 'm.onnx.data'), minBytes: 0 })
    writeFileSync(join(dir, 'm.onnx'), bytes)
    expect(statSync(join(dir, 'm.onnx.data')).size).toBe((12 + 3) * 4)
    const s = await createSession(join(dir, 'm.onnx'))
    const y = (await s.run({ x: floatTensor(Float32Array.from([1, 2, 3, 4]), [1, 4]) })).y
      ?.data as Float32Array
    expect([...y]).toEqual(expected)
  })

  it('keeps small initializers inline when no external file is given', async () => {
    const bytes = linearGraph().serialize()
    // The weights travel inside the model bytes: no file is needed to load it.
    expect(bytes.byteLength).toBeGreaterThan((12 + 3) * 4)
    const s = await createSession(bytes)
    const y = (await s.run({ x: floatTensor(Float32Array.from([1, 2, 3, 4]), [1, 4]) })).y
      ?.data as Float32Array
    expect([...y]).toEqual(expected)
  })
})
