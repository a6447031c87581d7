// The CLIP text encoder against HF CLIPTextModelWithProjection (golden cases/clip_text_*), and the released
// bigG text tower's schema loading key for key with no config.
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  buildClipText,
  type ClipTextConfig,
  clipTextConfig,
} from '../../gpu-backend/src/compiler/models/clip-text.ts'
import { readConfigFile } from '../../gpu-backend/src/compiler/models/config.ts'
import type { StageOptions } from '../../gpu-backend/src/compiler/models/stage-c.ts'
import { f16ToF32 } from '../../gpu-backend/src/compiler/weights/dtype.ts'
import { SafetensorsFile } from '../../gpu-backend/src/compiler/weights/safetensors.ts'
import { type LazyTensor, StateDict } from '../../gpu-backend/src/compiler/weights/state-dict.ts'
import { createSession, ort } from '../../gpu-backend/src/runtime/session.ts'
import { ClipTokenizer } from '../../gpu-backend/src/text/tokenizer.ts'
import { goldenPath, readCase, relErr } from './golden.ts'

// README: f32 vs f64 of the official forward is 4.5e-7 relative; a correct float32 graph sits well inside 1e-5.
const TOL = 1e-5
const cases = readdirSync(goldenPath('cases')).filter((f) => f.startsWith('clip_text'))
const tinyConfig = () => readConfigFile(goldenPath('configs/clip_text_tiny.json'))

function loadCase(f: string) {
  const c = readCase(goldenPath('cases', f))
  const sd = StateDict.fromSafetensors([SafetensorsFile.open(goldenPath(c.file.metadata.weights ?? ''))])
  const cfg = clipTextConfig(sd, tinyConfig())
  const ids = c.file.readInt64('input_ids')
  const [batch, seq] = c.file.get('input_ids').shape as [number, number]
  return { c, sd, cfg, ids, mask: c.file.readInt64('attention_mask'), batch, seq }
}

async function run(
  sd: StateDict,
  cfg: ClipTextConfig,
  opts: StageOptions,
  ids: BigInt64Array,
  mask: BigInt64Array,
) {
  const session = await createSession(buildClipText(sd, cfg, opts).serialize())
  const dims = [ids.length / cfg.positions, cfg.positions]
  const out = await session.run({
    input_ids: new ort.Tensor('int64', ids, dims),
    attention_mask: new ort.Tensor('int64', mask, dims),
  })
  const float = (t: ort.Tensor) =>
    t.type === 'float16' ? Float32Array.from(t.data as Uint16Array, f16ToF32) : (t.data as Float32Array)
  return { names: session.outputNames, get: (n: string) => float(out[n] as ort.Tensor) }
}

describe('CLIP text encoder parity', () => {
  it('finds golden cases', () => expect(cases.length).toBeGreaterThan(0))

  for (const f of cases) {
    it(`${f}: the tokenizer reproduces input_ids and attention_mask of the recorded prompts`, () => {
      const { c } = loadCase(f)
      const prompts = JSON.parse(c.file.metadata.prompts ?? '[]') as string[]
      expect(prompts.length).toBe(c.file.get('input_ids').shape[0])
      const enc = ClipTokenizer.fromFiles(goldenPath('tokenizer')).encodeBatch(prompts)
      expect(Array.from(enc.inputIds)).toEqual(Array.from(c.file.readInt64('input_ids')))
      expect(Array.from(enc.attentionMask)).toEqual(Array.from(c.file.readInt64('attention_mask')))
    })

    for (const fused of [true, false]) {
      const label = `${f} (${fused ? 'fused' : 'plain'})`
      it(`${label}: hidden_states[-1], last_hidden_state, text_embeds with the attention mask`, async () => {
        const { c, sd, cfg, ids, mask } = loadCase(f)
        const out = await run(sd, cfg, { fused }, ids, mask)
        const checks: [string, string][] = [
          ['hidden_pre_norm', `hidden_states.${cfg.layers}`],
          ['last_hidden_state', 'last_hidden_state'],
          ['text_embeds', 'text_embeds'],
        ]
        for (const [name, ref] of checks) {
          const err = relErr(out.get(name), c.get(ref).data)
          console.log(`${label} ${name}: max rel err ${err.toExponential(2)}`)
          expect(err, name).toBeLessThan(TOL)
        }
      })

      // HF without attention_mask applies only the causal mask: an all-ones mask is the same call.
      it(`${label}: nomask.* with an all-ones mask`, async () => {
        const { c, sd, cfg, ids } = loadCase(f)
        const out = await run(sd, cfg, { fused }, ids, new BigInt64Array(ids.length).fill(1n))
        const checks: [string, string][] = [
          ['hidden_pre_norm', 'nomask.hidden_states_last'],
          ['last_hidden_state', 'nomask.last_hidden_state'],
          ['text_embeds', 'nomask.text_embeds'],
        ]
        for (const [name, ref] of checks) {
          const err = relErr(out.get(name), c.get(ref).data)
          console.log(`${label} nomask ${name}: max rel err ${err.toExponential(2)}`)
          expect(err, name).toBeLessThan(TOL)
        }
      })
    }

    it(`${f}: without text_projection (CLIPTextModel) there is no text_embeds output`, async () => {
      const { c, sd, ids, mask } = loadCase(f)
      sd.delete('text_projection.weight')
      const cfg = clipTextConfig(sd, tinyConfig())
      expect(cfg.projection).toBeUndefined()
      const out = await run(sd, cfg, {}, ids, mask)
      expect(out.names).toEqual(['hidden_pre_norm', 'last_hidden_state'])
      expect(relErr(out.get('last_hidden_state'), c.get('last_hidden_state').data)).toBeLessThan(TOL)
    })

    it(`${f}: fp16 graph stays finite and tracks the float32 reference`, async () => {
      const { c, sd, cfg, ids, mask } = loadCase(f)
      const out = await run(sd, cfg, { dtype: 'fp16' }, ids, mask)
      for (const [name, ref] of [
        ['hidden_pre_norm', `hidden_states.${cfg.layers}`],
        ['last_hidden_state', 'last_hidden_state'],
        ['text_embeds', 'text_embeds'],
      ] as const) {
        const err = relErr(out.get(name), c.get(ref).data)
        console.log(`${f} fp16 ${name}: max rel err ${err.toExponential(2)}`)
        // fp16 weights and activations: a few half-precision ulps (2^-11) per layer.
        expect(err, name).toBeLessThan(5e-3)
      }
    })
  }
})

interface Schema {
  constructor_kwargs: Record<string, number | string>
  tensors: { name: string; shape: number[] }[]
}

describe('released CLIP text tower schema', () => {
  const schema = JSON.parse(readFileSync(goldenPath('schemas/clip_text_bigg.json'), 'utf8')) as Schema
  let reads = 0
  const lazyZeros = (shape: number[]): LazyTensor => ({
    shape,
    dtype: 'BF16',
    read: () => {
      reads++
      return new Float32Array(shape.reduce((a, b) => a * b, 1))
    },
  })
  const checkpoint = (tensors: [string, number[]][]) =>
    new StateDict('clip_text_bigg.json', new Map(tensors.map(([k, s]) => [k, lazyZeros(s)])))
  const original = schema.tensors.map((t): [string, number[]] => [t.name, t.shape])

  it('bigG: detected with no config, built key for key, nothing read', () => {
    reads = 0
    // Older checkpoints still carry the position_ids buffer; it is ignored.
    const sd = checkpoint([...original, ['text_model.embeddings.position_ids', [1, 77]]])
    const cfg = clipTextConfig(sd)
    const k = schema.constructor_kwargs
    expect(cfg).toMatchObject({
      vocab: k.vocab_size,
      hidden: k.hidden_size,
      intermediate: k.intermediate_size,
      layers: k.num_hidden_layers,
      heads: k.num_attention_heads,
      positions: k.max_position_embeddings,
      projection: k.projection_dim,
      hiddenAct: k.hidden_act,
      layerNormEps: k.layer_norm_eps,
      eosTokenId: 49407,
    })
    const g = buildClipText(sd, cfg)
    expect(reads).toBe(0)
    console.log(`clip_text_bigg.json: ${original.length} tensors, ${g.nodeCount} nodes`)
  })

  it('a missing, an extra and a misshapen key are all named', () => {
    const missing = 'text_model.encoder.layers.7.mlp.fc1.bias'
    const misshapen = 'text_model.encoder.layers.9.self_attn.v_proj.weight'
    const broken = original
      .filter(([k]) => k !== missing)
      .map(([k, s]): [string, number[]] => [k, k === misshapen ? [1280, 1281] : s])
    broken.push(['stray.weight', [3]])
    const sd = checkpoint(broken)
    expect(() => buildClipText(sd, clipTextConfig(sd))).toThrow(
      new RegExp(`missing ${missing}[\\s\\S]*wrong shape for ${misshapen}[\\s\\S]*unexpected stray.weight`),
    )
  })

  it('a text tower that is not a released width needs a config', () => {
    const sd = checkpoint(
      original.map(([k, s]): [string, number[]] => [k, s.map((d) => (d === 1280 ? 96 : d))]),
    )
    expect(() => clipTextConfig(sd)).toThrow(/not a released variant/)
  })
})
