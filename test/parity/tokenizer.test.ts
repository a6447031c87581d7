// The CLIP tokenizer against openai/CLIP simple_tokenizer (golden tokenizer/prompts.json): cleaned text, padded ids,
// masks and untruncated ids exact for every prompt, mojibake repaired by ftfy included.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ClipTokenizer, CONTEXT_LENGTH } from '../../gpu-backend/src/text/tokenizer.ts'
import { normalizePrompt } from '../../shared/src/prompt-normalize.ts'
import { goldenPath } from './golden.ts'

interface GoldenPrompt {
  text: string
  category: string
  cleaned_text: string
  ids_raw: number[]
  ids_padded_77: number[]
  attention_mask_77: number[]
}

const golden = JSON.parse(readFileSync(goldenPath('tokenizer/prompts.json'), 'utf8')) as {
  pad_id_used_in_padded: number
  prompts: GoldenPrompt[]
}

const tok = ClipTokenizer.fromFiles(goldenPath('tokenizer'))
const numbers = (a: BigInt64Array) => Array.from(a, Number)

describe('CLIP tokenizer', () => {
  it('pads with the golden pad id (<|endoftext|> by default)', () => {
    expect(tok.padId).toBe(golden.pad_id_used_in_padded)
    expect([tok.bosId, tok.eosId]).toEqual([49406, 49407])
  })

  for (const [i, p] of golden.prompts.entries()) {
    it(`#${i} ${p.category}: ${[...JSON.stringify(p.text)].slice(0, 40).join('')}`, () => {
      expect(normalizePrompt(p.text)).toBe(p.cleaned_text)
      const e = tok.encode(p.text)
      expect(e.inputIds).toHaveLength(CONTEXT_LENGTH)
      expect(numbers(e.inputIds)).toEqual(p.ids_padded_77)
      expect(numbers(e.attentionMask)).toEqual(p.attention_mask_77)
      // Untruncated ids too (the long prompts lose their tail only in the padded form).
      expect([tok.bosId, ...tok.tokenIds(p.text), tok.eosId]).toEqual(p.ids_raw)
    })
  }

  it('special tokens count only where simple_tokenizer matches them', () => {
    expect(tok.tokenIds('a <|endoftext|>')).toEqual([...tok.tokenIds('a'), 49407])
    // simple_tokenizer's regex reads "!<|" as one punctuation run, so no special token starts there.
    expect(tok.tokenIds('!<|endoftext|>')).not.toContain(49407)
  })

  it('encodes a batch row by row', () => {
    const texts = golden.prompts.slice(0, 3).map((p) => p.text)
    const b = tok.encodeBatch(texts)
    expect(b.batch).toBe(3)
    texts.forEach((t, i) => {
      const row = (a: BigInt64Array) => numbers(a.subarray(i * CONTEXT_LENGTH, (i + 1) * CONTEXT_LENGTH))
      expect(row(b.inputIds)).toEqual(numbers(tok.encode(t).inputIds))
      expect(row(b.attentionMask)).toEqual(numbers(tok.encode(t).attentionMask))
    })
  })

  it('reads the pad token from the tokenizer files (special_tokens_map.json over tokenizer_config.json)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clip-tok-'))
    for (const f of ['vocab.json', 'merges.txt'])
      writeFileSync(join(dir, f), readFileSync(goldenPath('tokenizer', f)))
    // The laion bigG tokenizer pads with "!" (id 0), models.md 6.3.
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ pad_token: { content: '!' } }))
    const laion = ClipTokenizer.fromFiles(dir)
    expect(laion.padId).toBe(0)
    expect(numbers(laion.encode('a photo of a cat').inputIds).slice(7)).toEqual(new Array(70).fill(0))
    writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: '<|endoftext|>' }))
    expect(ClipTokenizer.fromFiles(dir).padId).toBe(49407)
  })
})
