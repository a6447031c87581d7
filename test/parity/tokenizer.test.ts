// The CLIP tokenizer against openai/CLIP simple_tokenizer (golden tokenizer/prompts.json): padded ids and masks
// exact for every prompt, except mojibake that only ftfy repairs.
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

// ftfy's mojibake repair (guessing that UTF-8 was decoded as cp1252/latin-1 and re-encoding) is the one part
// of simple_tokenizer's cleaning the shared normalizePrompt does not reproduce. Such prompts are recognised by
// the text the cleaning produced, and must look like mojibake (a UTF-8 lead byte read as cp1252/latin-1, or a C1
// control), so no other kind of mismatch can hide among them. In the public set: 'â€œmojibake quotesâ€\x9d'.
// The second character: a latin-1 continuation byte or one of cp1252's 0x80-0x9f replacements.
const MOJIBAKE = /[ÃÂâ][\u0080-\u00bf\u0152-\u0192\u02c6-\u02dc\u2013-\u2122]|[\u0080-\u009f]/
const cleaningGap = (p: GoldenPrompt) => normalizePrompt(p.text) !== p.cleaned_text

const tok = ClipTokenizer.fromFiles(goldenPath('tokenizer'))
const numbers = (a: BigInt64Array) => Array.from(a, Number)
const matches = (p: GoldenPrompt) => {
  const e = tok.encode(p.text)
  return (
    JSON.stringify(numbers(e.inputIds)) === JSON.stringify(p.ids_padded_77) &&
    JSON.stringify(numbers(e.attentionMask)) === JSON.stringify(p.attention_mask_77)
  )
}

describe('CLIP tokenizer', () => {
  it('pads with the golden pad id (<|endoftext|> by default)', () => {
    expect(tok.padId).toBe(golden.pad_id_used_in_padded)
    expect([tok.bosId, tok.eosId]).toEqual([49406, 49407])
  })

  it('every prompt that does not match is a mojibake case only ftfy repairs', () => {
    const misses = golden.prompts.filter((p) => !matches(p))
    for (const p of misses) {
      expect(cleaningGap(p)).toBe(true)
      expect(p.text).toMatch(MOJIBAKE)
    }
    expect(misses.length).toBeLessThanOrEqual(Math.ceil(golden.prompts.length / 50))
  })

  for (const [i, p] of golden.prompts.entries()) {
    if (cleaningGap(p) && MOJIBAKE.test(p.text)) continue
    it(`#${i} ${p.category}: ${[...JSON.stringify(p.text)].slice(0, 40).join('')}`, () => {
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
