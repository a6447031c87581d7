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

  it('the default list keeps first and last layers, level changes and the effnet mappers, per graph', () => {
    const keeps = (graph: string, name: string) => !new Int8Layers(graph, defaultKeepFp32()).quantizes(name)
    expect(keeps('stage_c', 'embedding.1')).toBe(true)
    expect(keeps('stage_c', 'clf.1')).toBe(true)
    expect(keeps('stage_c', 'up_upscalers.1.1.blocks.1')).toBe(true)
    expect(keeps('stage_b', 'effnet_mapper.2')).toBe(true)
    expect(keeps('stage_b', 'effnet_mappers.5')).toBe(true)
    expect(keeps('stage_a_decoder', 'up_blocks.0.0')).toBe(true)
    expect(keeps('stage_a_decoder', 'out_block.0')).toBe(true)
    expect(keeps('stage_a_encoder', 'down_blocks.3.0')).toBe(true)
    expect(keeps('text_encoder', 'text_projection')).toBe(true)
    // The same paths elsewhere, and the bulk of every model, become int8.
    expect(keeps('stage_a_encoder', 'up_blocks.0.0')).toBe(false)
    expect(keeps('stage_a_decoder', 'up_blocks.1.channelwise.0')).toBe(false)
    expect(keeps('stage_c', 'down_blocks.0.0.channelwise.0')).toBe(false)
    expect(keeps('stage_c', 'down_blocks.0.2.attention.attn.in_proj')).toBe(false)
    expect(keeps('text_encoder', 'text_model.encoder.layers.0.mlp.fc1')).toBe(false)
  })
})
