import { describe, expect, it } from 'vitest'
import { packDiffusersAttention } from './key-map.ts'
import { StateDict } from './state-dict.ts'

const t = (shape: number[], fill = 0) => ({
  shape,
  data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill),
})

describe('StateDict', () => {
  it('names every missing, misshapen and unexpected key in one error', () => {
    const sd = StateDict.fromTensors('ckpt.safetensors', {
      'a.weight': t([2, 3]),
      'b.weight': t([4]),
      'stray.bias': t([1]),
    })
    sd.take('a.weight', [2, 3])
    sd.take('b.weight', [5])
    sd.take('c.weight', [1, null])
    expect(() => sd.assertComplete()).toThrow(
      /ckpt\.safetensors does not fit[\s\S]*wrong shape for b\.weight: \[4\], expected \[5\][\s\S]*missing c\.weight \[1, \*\][\s\S]*unexpected stray\.bias/,
    )
  })

  it('accepts a complete checkpoint and open axes', () => {
    const sd = StateDict.fromTensors('ok', { 'a.weight': t([2, 3]) })
    expect(sd.take('a.weight', [2, null]).shape).toEqual([2, 3])
    expect(() => sd.assertComplete()).not.toThrow()
  })

  it('packs diffusers to_q/to_k/to_v into in_proj in q, k, v row order', () => {
    const sd = StateDict.fromTensors('df', {
      'blocks.0.attention.to_q.weight': t([2, 2], 1),
      'blocks.0.attention.to_k.weight': t([2, 2], 2),
      'blocks.0.attention.to_v.weight': t([2, 2], 3),
      'blocks.0.attention.to_q.bias': t([2], 1),
      'blocks.0.attention.to_k.bias': t([2], 2),
      'blocks.0.attention.to_v.bias': t([2], 3),
      'blocks.0.attention.to_out.0.weight': t([2, 2], 4),
      'blocks.0.attention.to_out.0.bias': t([2], 4),
    })
    packDiffusersAttention(sd)
    expect(sd.keys().sort()).toEqual([
      'blocks.0.attention.attn.in_proj_bias',
      'blocks.0.attention.attn.in_proj_weight',
      'blocks.0.attention.attn.out_proj.bias',
      'blocks.0.attention.attn.out_proj.weight',
    ])
    expect([...sd.take('blocks.0.attention.attn.in_proj_weight', [6, 2]).read()]).toEqual([
      1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
    ])
    expect([...sd.take('blocks.0.attention.attn.in_proj_bias', [6]).read()]).toEqual([1, 1, 2, 2, 3, 3])
  })
})
