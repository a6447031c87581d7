// Text conditioning: prompts -> text-encoder outputs (graph contract, models.md Part 1: `input_ids` /
// `attention_mask` int64 (B, 77) in; `hidden_pre_norm`, `last_hidden_state`, `text_embeds` out), and those
// outputs -> the conditioning inputs of a stage graph, as the manifest's `settings.text` lists them.
import { TILING_INPUT } from '../compiler/blocks/borders.ts'
import { ort, runFloat32 } from '../runtime/session.ts'
import type { DiffusionStage, HostTensor } from './tensor.ts'
import { numel, outputOf, zeros } from './tensor.ts'

/** The CLIP tokenizer contract (gpu-backend/src/text): ids and mask padded to the context length (77). */
export interface Tokenizer {
  encode(text: string): { inputIds: BigInt64Array; attentionMask: BigInt64Array }
}

/** Text-encoder outputs for a batch of prompts, by output name. */
export type TextStates = Record<string, HostTensor>

export interface TextEncoders {
  /** Encodes `prompts` (one row each) with the encoder that conditions `stage`. */
  encode(stage: DiffusionStage, prompts: readonly string[]): Promise<TextStates>
}

export interface EncoderSession {
  session: ort.InferenceSession
  tokenizer: Tokenizer
}

/** Prompts recently encoded, per encoder: the negative prompt "" recurs in nearly every request. */
const CACHE_ENTRIES = 64

/**
 * ONNX text encoders: Stage C uses the first encoder, Stage B the second when the model has one (Würstchen v2:
 * CLIP-H), else the first. Each prompt is encoded once and kept in a small LRU.
 */
export class OnnxTextEncoders implements TextEncoders {
  readonly #cache: Map<string, TextStates>[]

  constructor(readonly encoders: readonly [EncoderSession, ...EncoderSession[]]) {
    this.#cache = encoders.map(() => new Map())
  }

  encode(stage: DiffusionStage, prompts: readonly string[]): Promise<TextStates> {
    return this.#encode(stage === 'b' && this.encoders.length > 1 ? 1 : 0, prompts)
  }

  async #encode(index: number, prompts: readonly string[]): Promise<TextStates> {
    const cache = this.#cache[index] as Map<string, TextStates>
    const missing = [...new Set(prompts)].filter((p) => !cache.has(p))
    if (missing.length) {
      const { session, tokenizer } = this.encoders[index] as EncoderSession
      const tokens = missing.map((p) => tokenizer.encode(p))
      const len = tokens[0]?.inputIds.length ?? 0
      const ids = new BigInt64Array(missing.length * len)
      const mask = new BigInt64Array(missing.length * len)
      tokens.forEach((t, i) => {
        ids.set(t.inputIds, i * len)
        mask.set(t.attentionMask, i * len)
      })
      const out = await runFloat32(session, {
        input_ids: new ort.Tensor('int64', ids, [missing.length, len]),
        attention_mask: new ort.Tensor('int64', mask, [missing.length, len]),
      })
      missing.forEach((p, i) => {
        const states: TextStates = {}
        for (const name of session.outputNames) {
          const t = outputOf(out, name)
          const per = numel(t.dims.slice(1))
          states[name] = { data: t.data.slice(i * per, (i + 1) * per), dims: [1, ...t.dims.slice(1)] }
        }
        cache.set(p, states)
        if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value as string)
      })
    }
    return stackStates(prompts.map((p) => touch(cache, p)))
  }
}

function touch(cache: Map<string, TextStates>, prompt: string): TextStates {
  const s = cache.get(prompt) as TextStates
  cache.delete(prompt)
  cache.set(prompt, s)
  return s
}

/** Rows of per-prompt states stacked into one batch per output. */
function stackStates(rows: TextStates[]): TextStates {
  const out: TextStates = {}
  for (const name of Object.keys(rows[0] ?? {})) {
    const parts = rows.map((r) => r[name] as HostTensor)
    const per = (parts[0] as HostTensor).data.length
    const data = new Float32Array(per * parts.length)
    parts.forEach((p, i) => {
      data.set(p.data, i * per)
    })
    out[name] = { data, dims: [parts.length, ...(parts[0] as HostTensor).dims.slice(1)] }
  }
  return out
}

/** Inputs of a stage graph that are not text: the latent, the noise level, the effnet, a tile graph's axes. */
const NON_TEXT_INPUTS = new Set(['x', 'r', 'effnet', TILING_INPUT])

/**
 * Maps text states onto a stage graph's conditioning inputs, in graph order: the k-th conditioning input takes the
 * k-th output the manifest lists for the stage (a pooled (B, P) output becomes (B, 1, P)); inputs beyond the list
 * (Stable Cascade's `clip_img`) are zeros, as the official text-to-image path feeds them: one entry along a free
 * axis (`clip_img` (B, N, 768) takes one image embedding of zeros).
 */
export function stageConditioning(
  session: ort.InferenceSession,
  outputs: readonly string[],
  states: TextStates,
  batch: number,
): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {}
  const inputs = session.inputMetadata.filter((m) => !NON_TEXT_INPUTS.has(m.name))
  inputs.forEach((meta, k) => {
    const dims = meta.isTensor ? meta.shape : []
    const output = outputs[k]
    if (output === undefined) {
      feeds[meta.name] = zeros([batch, ...dims.slice(1).map((d) => (typeof d === 'number' ? d : 1))])
      return
    }
    const s = states[output]
    if (!s) throw new Error(`the text encoder has no output "${output}" (needed by input "${meta.name}")`)
    feeds[meta.name] =
      s.dims.length === dims.length ? s : { data: s.data, dims: [s.dims[0] as number, 1, ...s.dims.slice(1)] }
  })
  return feeds
}
