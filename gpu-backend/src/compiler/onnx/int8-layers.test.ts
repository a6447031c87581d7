import { describe, expect, it } from 'vitest'
import { DEFAULT_KEEP_FP32, defaultKeepFp32, Int8Layers } from './int8-layers.ts'

describe('Int8Layers', () => {
  it('keeps what a pattern names, graph-qualified patterns only in their graph, and records both lists', () => {
    const layers = new Int8Layers('stage_c', [
      '*.attention.attn.out_proj',
      'stage_c/clf.1',
      'stage_b/embedding.1',
    ])
    const names = [
      'down_blocks.0.2.attention.attn.out_proj',
      'down_blocks.0.2.attention.attn.in_proj',
      'clf.1',
      'embedding.1',
    ]
    expect(names.map((n) => layers.quantizes(n))).toEqual([false, true, false, true])
    layers.quantizes('clf.1')
    expect(layers.fp32).toEqual(['down_blocks.0.2.attention.attn.out_proj', 'clf.1'])
    expect(layers.int8).toEqual(['down_blocks.0.2.attention.attn.in_proj', 'embedding.1'])
  })

  it("the default list keeps the time embedding's mappers, not the condition mappers", () => {
    const layers = new Int8Layers('stage_c', defaultKeepFp32())
    expect(layers.quantizes('down_blocks.0.1.mapper')).toBe(false)
    expect(layers.quantizes('down_blocks.0.1.mapper_sca')).toBe(false)
    expect(layers.quantizes('down_blocks.0.2.kv_mapper.1')).toBe(true)
    expect(layers.quantizes('clip_txt_mapper')).toBe(true)
    expect(DEFAULT_KEEP_FP32.every((k) => k.why.length > 0)).toBe(true)
  })
})
