import { describe, expect, it } from 'vitest'
import golden from '../../test/golden/tokenizer/prompts.json'
import { normalizePrompt } from './prompt-normalize.ts'

// ftfy-only cases we do not reproduce (mojibake repair needs ftfy's encoding guesser): 1 of the 120 golden
// prompts, the `normalization` case 'â€œmojibake quotesâ€\x9d' (ftfy -> '"mojibake quotes"').
const FTFY_ONLY = new Set(['â€œmojibake quotesâ€\u009d'])

describe('normalizePrompt on the golden CLIP prompts', () => {
  const prompts = (golden as { prompts: { text: string; cleaned_text: string; category: string }[] }).prompts
  it('has the 120 prompts and skips exactly the one mojibake case', () => {
    expect(prompts).toHaveLength(120)
    expect(prompts.filter((p) => FTFY_ONLY.has(p.text))).toHaveLength(1)
  })
  for (const [i, p] of prompts.entries()) {
    if (FTFY_ONLY.has(p.text)) continue
    it(`#${i} ${p.category}: ${[...JSON.stringify(p.text)].slice(0, 40).join('')}`, () => {
      expect(normalizePrompt(p.text)).toBe(p.cleaned_text)
    })
  }
  it('makes case and whitespace variants equal', () => {
    expect(normalizePrompt('  A   Cat\n\tIN  the Rain ')).toBe(normalizePrompt('a cat in the rain'))
  })
})
