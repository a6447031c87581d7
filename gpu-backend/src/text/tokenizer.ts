// CLIP tokenizer: the ids of openai/CLIP's simple_tokenizer, padded to 77 the way the HF CLIPTokenizer pads
// for the text encoder (`padding='max_length', max_length=77, truncation=True`, models.md 6.3).
//
//   text -> normalizePrompt (simple_tokenizer's cleaning, shared with the edge's request key)
//        -> words and special tokens (simple_tokenizer's regex) -> byte-level BPE per word (@huggingface/tokenizers)
//        -> [BOS, first 75 ids, EOS, pad...]
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Tokenizer } from '@huggingface/tokenizers'
import { normalizePrompt } from '../../../shared/src/prompt-normalize.ts'

export const CONTEXT_LENGTH = 77
export const BOS_TOKEN = '<|startoftext|>'
export const EOS_TOKEN = '<|endoftext|>'

// simple_tokenizer's pattern. Python's `\s` (regex module) lacks U+FEFF, which JS `\s` has, so it is spelled
// out; the special tokens only count where the scan starts a match on them (not inside a run like "!<|").
const PY_SPACE = '\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'
const WORDS = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${PY_SPACE}\\p{L}\\p{N}]+`,
  'gu',
)

export interface EncodedText {
  /** [77] ids: BOS, content, EOS, padding. */
  inputIds: BigInt64Array
  /** [77]: 1 for BOS..EOS, 0 for padding. */
  attentionMask: BigInt64Array
}

export interface EncodedBatch extends EncodedText {
  /** Rows of 77; the arrays are [batch * 77], row-major. */
  batch: number
}

/** HF tokenizer JSON for CLIP's byte-level BPE: one word in, its BPE ids out (words are split by `WORDS`). */
function bpeTokenizerJson(vocab: Record<string, number>, merges: string[]): object {
  return {
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    post_processor: null,
    decoder: null,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: EOS_TOKEN,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  }
}

export class ClipTokenizer {
  readonly bosId: number
  readonly eosId: number
  readonly padId: number
  private readonly bpe: Tokenizer

  constructor(
    private readonly vocab: Record<string, number>,
    merges: string[],
    padToken: string = EOS_TOKEN,
  ) {
    this.bpe = new Tokenizer(bpeTokenizerJson(vocab, merges), {})
    this.bosId = this.idOf(BOS_TOKEN)
    this.eosId = this.idOf(EOS_TOKEN)
    this.padId = this.idOf(padToken)
  }

  /** `vocab.json` + `merges.txt`; the pad token from `special_tokens_map.json` / `tokenizer_config.json`. */
  static fromFiles(dir: string): ClipTokenizer {
    const vocab = JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8')) as Record<string, number>
    // Skip the `#version` header; the rest is one `left right` merge per line, in rank order.
    const merges = readFileSync(join(dir, 'merges.txt'), 'utf8')
      .split('\n')
      .filter((l) => l.length > 0 && !l.startsWith('#version'))
    return new ClipTokenizer(vocab, merges, padTokenOf(dir))
  }

  private idOf(token: string): number {
    const id = this.vocab[token]
    if (id === undefined) throw new Error(`CLIP tokenizer: ${JSON.stringify(token)} is not in the vocabulary`)
    return id
  }

  /** Content ids of `text` (no BOS/EOS, not truncated). */
  tokenIds(text: string): number[] {
    const ids: number[] = []
    for (const [word] of normalizePrompt(text).matchAll(WORDS)) {
      if (word === BOS_TOKEN || word === EOS_TOKEN) ids.push(this.idOf(word))
      else ids.push(...this.bpe.encode(word, { add_special_tokens: false }).ids)
    }
    return ids
  }

  encode(text: string): EncodedText {
    const inputIds = new BigInt64Array(CONTEXT_LENGTH).fill(BigInt(this.padId))
    const attentionMask = new BigInt64Array(CONTEXT_LENGTH)
    const ids = [this.bosId, ...this.tokenIds(text).slice(0, CONTEXT_LENGTH - 2), this.eosId]
    ids.forEach((id, i) => {
      inputIds[i] = BigInt(id)
      attentionMask[i] = 1n
    })
    return { inputIds, attentionMask }
  }

  encodeBatch(texts: readonly string[]): EncodedBatch {
    const inputIds = new BigInt64Array(texts.length * CONTEXT_LENGTH)
    const attentionMask = new BigInt64Array(texts.length * CONTEXT_LENGTH)
    texts.forEach((t, b) => {
      const e = this.encode(t)
      inputIds.set(e.inputIds, b * CONTEXT_LENGTH)
      attentionMask.set(e.attentionMask, b * CONTEXT_LENGTH)
    })
    return { inputIds, attentionMask, batch: texts.length }
  }
}

/**
 * The pad token as HF loads it: `special_tokens_map.json` overrides `tokenizer_config.json`; CLIPTokenizer's
 * default is `<|endoftext|>`. Entries are a string or an AddedToken object `{content, ...}`.
 */
export function padTokenOf(dir: string): string {
  for (const file of ['special_tokens_map.json', 'tokenizer_config.json']) {
    const path = join(dir, file)
    if (!existsSync(path)) continue
    const pad = (JSON.parse(readFileSync(path, 'utf8')) as { pad_token?: unknown }).pad_token
    if (typeof pad === 'string') return pad
    if (pad && typeof pad === 'object' && typeof (pad as { content?: unknown }).content === 'string')
      return (pad as { content: string }).content
  }
  return EOS_TOKEN
}
