// LoRA reading and merging on the golden tiny Stage C: the three formats land on the same weights, and every
// file that does not fit is refused with the keys named and the checkpoint unchanged.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { isAbsolute, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { randomCheckpoint, rng, seededDraw, tinyConfig } from '../make-tiny.ts'
import { SafetensorsFile, type TensorToWrite, writeSafetensors } from '../weights/safetensors.ts'
import { StateDict } from '../weights/state-dict.ts'
import { parseLoraSpec, readLoraFile } from './lora-file.ts'
import { mergeLoras } from './merge.ts'

const golden = join(import.meta.dirname, '../../../../test/golden')
const KOHYA = join(golden, 'image/weights/lora_kohya_tiny.safetensors')
const OFFICIAL = join(golden, 'image/weights/lora_official_tiny.safetensors')
const dir = mkdtempSync(join(tmpdir(), 'lora-'))

const stageC = () =>
  StateDict.fromSafetensors([SafetensorsFile.open(join(golden, 'weights/stage_c_tiny.safetensors'))])
const read = (sd: StateDict, key: string) => sd.take(key, sd.shapeOf(key) ?? []).read()
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0)

/** The golden kohya file's tensors, renamed and/or extended, written as a new file (in `dir` unless absolute). */
function rewrite(
  name: string,
  map: (key: string) => string | undefined,
  extra: [string, TensorToWrite][] = [],
): string {
  const src = SafetensorsFile.open(KOHYA)
  const tensors: [string, TensorToWrite][] = []
  for (const [k, t] of src.tensors) {
    const to = map(k)
    if (to) tensors.push([to, { dtype: 'F32', shape: t.shape, data: src.readFloat32(k) }])
  }
  const path = isAbsolute(name) ? name : join(dir, name)
  writeSafetensors(path, [...tensors, ...extra])
  return path
}

const f32 = (shape: number[], fill: number): TensorToWrite => ({
  dtype: 'F32',
  shape,
  data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill),
})

/** kohya key -> PEFT key under diffusers names (`prior.…attention.to_q.lora_A.weight`, `to_out.0`). */
function toPeft(k: string): string | undefined {
  const m =
    /^lora_prior_unet_(down|up)_blocks_(\d+)_(\d+)_attention_attn_(to_[qkv]|out_proj)\.lora_(down|up)\.weight$/.exec(
      k,
    )
  if (!m) return undefined
  const proj = m[4] === 'out_proj' ? 'to_out.0' : m[4]
  return `prior.${m[1]}_blocks.${m[2]}.${m[3]}.attention.${proj}.lora_${m[5] === 'down' ? 'A' : 'B'}.weight`
}

describe('LoRA files', () => {
  it('parses file[:strength]', () => {
    expect(parseLoraSpec('a.safetensors:0.5')).toEqual({ path: 'a.safetensors', strength: 0.5 })
    expect(parseLoraSpec('a.safetensors:-1e-1')).toEqual({ path: 'a.safetensors', strength: -0.1 })
    expect(parseLoraSpec('dir/a.safetensors')).toEqual({ path: 'dir/a.safetensors', strength: 1 })
    expect(parseLoraSpec('C:/x.safetensors')).toEqual({ path: 'C:/x.safetensors', strength: 1 })
  })

  it('reads the official file as pairs of scale 1/rank and the kohya one as alpha/rank', () => {
    const o = readLoraFile(OFFICIAL, 1)
    expect(o.format).toBe('official')
    expect(o.pairs.map((p) => p.name)).toEqual(o.pairs.map((_, i) => `weights.${i}`))
    for (const p of o.pairs) expect(p.scale).toBe(1 / (p.down.shape[0] as number))
    const k = readLoraFile(KOHYA, 1)
    expect(k.format).toBe('kohya')
    expect(new Set(k.pairs.map((p) => p.part))).toEqual(new Set(['unet']))
  })

  it('official, kohya and PEFT (diffusers names) change the same weights by the same amounts', () => {
    const sub = mkdtempSync(join(dir, 'peft-'))
    const peft = rewrite(join(sub, 'adapter_model.safetensors'), toPeft)
    writeFileSync(join(sub, 'adapter_config.json'), JSON.stringify({ r: 2, lora_alpha: 1 }))
    const merged = [OFFICIAL, KOHYA, peft].map((path) => {
      const sd = stageC()
      const [m] = mergeLoras({ unet: sd }, [readLoraFile(path, 0.5)])
      return { sd, m }
    })
    const base = stageC()
    const attention = base.keys().filter((k) => /\.attn\.(in_proj_weight|out_proj\.weight)$/.test(k))
    expect(attention.length).toBeGreaterThan(0)
    for (const key of attention) {
      const before = read(base, key)
      const [a, b, c] = merged.map(({ sd }) => read(sd, key))
      expect(maxDiff(a as Float32Array, before)).toBeGreaterThan(1e-3)
      for (const other of [b, c]) expect(maxDiff(other as Float32Array, a as Float32Array)).toBeLessThan(1e-6)
    }
    // Biases and every other weight are untouched.
    for (const key of base.keys().filter((k) => !attention.includes(k)))
      expect(read(merged[0]?.sd as StateDict, key)).toEqual(read(base, key))
    // Official: in_proj and out_proj per attention; the split formats: q, k, v and out_proj.
    const modules = attention.length / 2
    expect(merged.map(({ m }) => m?.weights)).toEqual([2 * modules, 4 * modules, 4 * modules])
  })

  it("scales PEFT by adapter_config.json's lora_alpha / r, else by 1 (alpha = rank)", () => {
    const key = 'down_blocks.0.2.attention.attn.in_proj_weight'
    const merged = (path: string, strength: number) => {
      const sd = stageC()
      mergeLoras({ unet: sd }, [readLoraFile(path, strength)])
      return read(sd, key)
    }
    // The golden kohya file has alpha 1 at rank 2 (scale 0.5).
    const close = (a: Float32Array, b: Float32Array) => expect(maxDiff(a, b)).toBeLessThan(1e-6)
    close(merged(rewrite('peft-bare.safetensors', toPeft), 1), merged(KOHYA, 2))
    const sub = mkdtempSync(join(dir, 'peft-'))
    const configured = rewrite(join(sub, 'adapter_model.safetensors'), toPeft)
    writeFileSync(join(sub, 'adapter_config.json'), JSON.stringify({ r: 2, lora_alpha: 4 }))
    close(merged(configured, 1), merged(KOHYA, 4))
  })

  it('merges a text-encoder LoRA (lora_prior_te_*) into the named CLIP weight', () => {
    const cfg = tinyConfig('stable-cascade', 'text')
    const tensors = Object.fromEntries(
      randomCheckpoint('stable-cascade', 'text', cfg, seededDraw(rng(1))).map(([k, t]) => [
        k,
        { shape: t.shape, data: (t.data as () => Float32Array)() },
      ]),
    )
    const text = StateDict.fromTensors('text', tensors)
    const key = 'text_model.encoder.layers.0.self_attn.q_proj.weight'
    const [out, inp] = text.shapeOf(key) as [number, number]
    const before = read(text, key).slice()
    const path = join(dir, 'te.safetensors')
    writeSafetensors(path, [
      ['lora_prior_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight', f32([1, inp], 1)],
      ['lora_prior_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight', f32([out, 1], 2)],
      ['lora_prior_te_text_model_encoder_layers_0_self_attn_q_proj.alpha', f32([], 0.5)],
    ])
    mergeLoras({ text }, [readLoraFile(path, 3)])
    // 3 · (0.5 / 1) · (2 · 1) = 3 on every entry.
    expect(
      maxDiff(
        read(text, key),
        before.map((v) => v + 3),
      ),
    ).toBeLessThan(1e-5)
  })
})

describe('LoRA on the Würstchen v2 prior', () => {
  it("applies PEFT pairs on diffusers' to_k / to_out.0 names to the packed in_proj rows and out_proj", () => {
    const tensors = Object.fromEntries(
      randomCheckpoint('wuerstchen-v2', 'c', tinyConfig('wuerstchen-v2', 'c'), seededDraw(rng(2))).map(
        ([k, t]) => [k, { shape: t.shape, data: (t.data as () => Float32Array)() }],
      ),
    )
    const prior = StateDict.fromTensors('prior', tensors)
    const inProj = 'blocks.2.attention.attn.in_proj_weight'
    const outProj = 'blocks.2.attention.attn.out_proj.weight'
    const c = prior.shapeOf(outProj)?.[0] as number
    const before = { in: read(prior, inProj).slice(), out: read(prior, outProj).slice() }
    const path = join(dir, 'v2-peft.safetensors')
    writeSafetensors(path, [
      ['prior.blocks.2.attention.to_k.lora_A.weight', f32([1, c], 1)],
      ['prior.blocks.2.attention.to_k.lora_B.weight', f32([c, 1], 0.5)],
      ['prior.blocks.2.attention.to_out.0.lora_A.weight', f32([1, c], 2)],
      ['prior.blocks.2.attention.to_out.0.lora_B.weight', f32([c, 1], 1)],
    ])
    const [m] = mergeLoras({ unet: prior }, [readLoraFile(path, 1)])
    expect(m).toMatchObject({ format: 'peft', weights: 2 })
    const after = read(prior, inProj)
    // q and v rows unchanged, k rows + 0.5, out_proj + 2 (no adapter_config.json: scale 1).
    expect(maxDiff(after.subarray(0, c * c), before.in.subarray(0, c * c))).toBe(0)
    expect(
      maxDiff(
        after.subarray(c * c, 2 * c * c),
        before.in.subarray(c * c, 2 * c * c).map((v) => v + 0.5),
      ),
    ).toBeLessThan(1e-6)
    expect(maxDiff(after.subarray(2 * c * c), before.in.subarray(2 * c * c))).toBe(0)
    expect(
      maxDiff(
        read(prior, outProj),
        before.out.map((v) => v + 2),
      ),
    ).toBeLessThan(1e-6)
  })
})

describe('LoRA errors name the keys and change nothing', () => {
  function refused(path: string, parts: 'unet' | 'both', pattern: RegExp) {
    const sd = stageC()
    const key = 'down_blocks.0.2.attention.attn.in_proj_weight'
    const before = read(sd, key).slice()
    expect(() =>
      mergeLoras(parts === 'unet' ? { unet: sd } : { unet: sd, text: sd }, [readLoraFile(path, 1)]),
    ).toThrow(pattern)
    expect(read(sd, key)).toEqual(before)
  }

  it('a key that matches no weight', () => {
    const path = rewrite('stray.safetensors', (k) => k, [
      ['lora_prior_unet_down_blocks_0_9_attention_attn_to_q.lora_down.weight', f32([2, 64], 0.1)],
      ['lora_prior_unet_down_blocks_0_9_attention_attn_to_q.lora_up.weight', f32([64, 2], 0.1)],
    ])
    refused(path, 'unet', /lora_prior_unet_down_blocks_0_9_attention_attn_to_q: matches no weight/)
  })

  it('a shape mismatch', () => {
    const path = rewrite(
      'shape.safetensors',
      (k) => (k.startsWith('lora_prior_unet_down_blocks_0_2_attention_attn_out_proj') ? undefined : k),
      [
        ['lora_prior_unet_down_blocks_0_2_attention_attn_out_proj.lora_down.weight', f32([2, 32], 0.1)],
        ['lora_prior_unet_down_blocks_0_2_attention_attn_out_proj.lora_up.weight', f32([64, 2], 0.1)],
      ],
    )
    refused(
      path,
      'unet',
      /lora_prior_unet_down_blocks_0_2_attention_attn_out_proj: shape mismatch, up @ down is \[64, 32\] but down_blocks\.0\.2\.attention\.attn\.out_proj\.weight is \[64, 64\]/,
    )
  })

  it('text-encoder pairs when only Stage C is converted', () => {
    const path = rewrite('te-only.safetensors', (k) => k, [
      ['lora_prior_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight', f32([2, 64], 0.1)],
      ['lora_prior_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight', f32([256, 2], 0.1)],
    ])
    refused(
      path,
      'unet',
      /1 pairs change the text encoder \(e\.g\. lora_prior_te_text_model_encoder_layers_0_mlp_fc1\), which this conversion does not build/,
    )
  })

  it('learned-token embeddings for tokens the model does not have', () => {
    const src = SafetensorsFile.open(OFFICIAL)
    const path = join(dir, 'tokens.safetensors')
    writeSafetensors(path, [
      ...[...src.tensors.values()].map((t): [string, TensorToWrite] => [
        t.name,
        { dtype: 'F32', shape: t.shape, data: src.readFloat32(t.name) },
      ]),
      ['embeddings.embeddings', f32([1, 8], 0.1)],
      ['embeddings.indices', { dtype: 'I64', shape: [1], data: BigInt64Array.from([49408n]) }],
    ])
    const text = StateDict.fromTensors('text', {
      'text_model.embeddings.token_embedding.weight': { shape: [16, 8], data: new Float32Array(128) },
    })
    expect(() => mergeLoras({ unet: stageC(), text }, [readLoraFile(path, 1)])).toThrow(
      /learned-token embeddings \(embeddings\.embeddings, embeddings\.indices\) cannot be applied: token ids 49408 are not in the text encoder's vocabulary of 16/,
    )
    expect(() => mergeLoras({ unet: stageC() }, [readLoraFile(path, 1)])).toThrow(
      /learned-token embeddings .* change the text encoder, which this conversion does not build/,
    )
  })

  it('learned tokens within the vocabulary are added to their rows, times the strength', () => {
    const src = SafetensorsFile.open(OFFICIAL)
    const path = join(dir, 'tokens-in-vocab.safetensors')
    writeSafetensors(path, [
      ...[...src.tensors.values()].map((t): [string, TensorToWrite] => [
        t.name,
        { dtype: 'F32', shape: t.shape, data: src.readFloat32(t.name) },
      ]),
      ['embeddings.embeddings', f32([1, 8], 0.25)],
      ['embeddings.indices', { dtype: 'I64', shape: [1], data: BigInt64Array.from([3n]) }],
    ])
    const text = StateDict.fromTensors('text', {
      'text_model.embeddings.token_embedding.weight': { shape: [16, 8], data: new Float32Array(128) },
    })
    const [m] = mergeLoras({ unet: stageC(), text }, [readLoraFile(path, 2)])
    expect(m?.tokens).toBe(1)
    const w = read(text, 'text_model.embeddings.token_embedding.weight')
    expect([...w.slice(24, 32)]).toEqual(new Array(8).fill(0.5))
    expect(w.filter((v) => v !== 0).length).toBe(8)
  })

  it('an official file whose pairs do not fit the attention modules', () => {
    const src = SafetensorsFile.open(OFFICIAL)
    const path = join(dir, 'official-short.safetensors')
    writeSafetensors(
      path,
      [...src.tensors.values()]
        .filter((t) => !t.name.startsWith('weights.0.'))
        .map((t) => [t.name, { dtype: 'F32', shape: t.shape, data: src.readFloat32(t.name) }]),
    )
    refused(path, 'unet', /this file has 11 pairs, the checkpoint 6 attention modules \(12 weights\)/)
  })

  it('adapter kinds other than plain LoRA (DoRA) and files of no known format', () => {
    const dora = rewrite('dora.safetensors', (k) => k, [
      ['lora_prior_unet_down_blocks_0_2_attention_attn_out_proj.dora_scale', f32([64, 1], 1)],
    ])
    expect(() => readLoraFile(dora, 1)).toThrow(/DoRA[\s\S]*attn_out_proj\.dora_scale/)
    const other = join(dir, 'other.safetensors')
    writeSafetensors(other, [['model.weight', f32([2, 2], 1)]])
    expect(() => readLoraFile(other, 1)).toThrow(/is not a LoRA file[\s\S]*model\.weight/)
  })
})
