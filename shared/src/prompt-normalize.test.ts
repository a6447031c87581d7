import { describe, expect, it } from 'vitest'
import golden from '../../test/golden/tokenizer/prompts.json'
import { normalizePrompt } from './prompt-normalize.ts'

describe('normalizePrompt on the golden CLIP prompts', () => {
  const prompts = (golden as { prompts: { text: string; cleaned_text: string; category: string }[] }).prompts
  it('has the 120 prompts', () => {
    expect(prompts).toHaveLength(120)
  })
  // All of them, the mojibake case 'â€œmojibake quotesâ€\x9d' (ftfy -> '"mojibake quotes"') included.
  for (const [i, p] of prompts.entries()) {
    it(`#${i} ${p.category}: ${[...JSON.stringify(p.text)].slice(0, 40).join('')}`, () => {
      expect(normalizePrompt(p.text)).toBe(p.cleaned_text)
    })
  }
  it('makes case and whitespace variants equal', () => {
    expect(normalizePrompt('  A   Cat\n\tIN  the Rain ')).toBe(normalizePrompt('a cat in the rain'))
  })
  it('cleans like simple_tokenizer: ftfy, then html.unescape twice, whitespace, lower case', () => {
    expect(normalizePrompt('  CafÃ© &amp;amp; â€œQuotesâ€\x9d\u3000\u2028x ')).toBe('café & "quotes" x')
    // A '<' stops ftfy's entity decoding, but html.unescape still runs twice.
    expect(normalizePrompt('<b>&amp;amp;amp;</b>')).toBe('<b>&amp;</b>')
    expect(normalizePrompt('a&#1;b &Chi)')).toBe('ab &chi)')
  })
})
