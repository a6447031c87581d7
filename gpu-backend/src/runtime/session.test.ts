import { describe, expect, it } from 'vitest'
import { Graph } from '../compiler/onnx/graph.ts'
import { createSession, ort, providerOf, runFloat32 } from './session.ts'

describe('runFloat32', () => {
  it('feeds float32 host data to float16 and float32 inputs alike and widens float16 outputs', async () => {
    // y = x (fp16) + cast(r) (fp32 input, as fp16 graphs keep r), ids pass through untouched.
    const g = new Graph('mixed', { dtype: 'fp16' })
    const x = g.input('x', ['n'])
    const r = g.input('r', ['n'], 'float32')
    const ids = g.input('ids', ['n'], 'int64')
    g.output(g.op1('Add', [x, g.cast(r, 'float16')]), 'y', ['n'])
    g.output(g.cast(ids, 'float32'), 'ids_f', ['n'])
    const s = await createSession(g.serialize())
    expect(providerOf(s)).toBe('cpu')
    const out = await runFloat32(s, {
      x: { data: Float32Array.from([1, 2.5, -3]), dims: [3] },
      r: { data: Float32Array.from([0.5, 0.25, 1]), dims: [3] },
      ids: new ort.Tensor('int64', BigInt64Array.from([7n, 8n, 9n]), [3]),
    })
    expect(out.y).toEqual({ data: Float32Array.from([1.5, 2.75, -2]), dims: [3] })
    expect(Array.from(out.ids_f?.data ?? [])).toEqual([7, 8, 9])
  })
})
