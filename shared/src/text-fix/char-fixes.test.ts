import { describe, expect, it } from 'vitest'
import {
  fixC1Controls,
  fixCharacterWidth,
  fixLatinLigatures,
  fixLineBreaks,
  fixSurrogates,
  removeControlChars,
  removeTerminalEscapes,
  uncurlQuotes,
} from './char-fixes.ts'

describe("ftfy's character fixes", () => {
  it('splits Latin ligatures the way ftfy does (not NFKC)', () => {
    expect(fixLatinLigatures('ﬂuﬃeﬆ')).toBe('fluffiest')
    expect(fixLatinLigatures('ﬅ Ĳssel ǅ')).toBe('ſt IJssel Dž')
    expect(fixLatinLigatures('æ œ')).toBe('æ œ')
  })

  it('normalizes character widths', () => {
    expect(fixCharacterWidth('ＬＯＵＤ　ＮＯＩＳＥＳ')).toBe('LOUD NOISES')
    expect(fixCharacterWidth('Ｕﾀｰﾝ')).toBe('Uターン')
  })

  it('uncurls quotes, the modifier apostrophe too', () => {
    expect(uncurlQuotes('\u201chere\u2019s a test\u201d')).toBe('"here\'s a test"')
    expect(uncurlQuotes('ʼtis „c‟ ‛d')).toBe('\'tis "c" \'d')
  })

  it('unifies line breaks', () => {
    expect(fixLineBreaks('a\r\nb\rc\u2028d\u2029e\u0085f')).toBe('a\nb\nc\nd\ne\nf')
  })

  it('replaces unpaired surrogates', () => {
    expect(fixSurrogates('\ud83d\ude00')).toBe('😀')
    expect(fixSurrogates('\ude00\ud83d x\ud83d')).toBe('\ufffd\ufffd x\ufffd')
  })

  it('removes terminal escapes and invisible controls', () => {
    expect(removeTerminalEscapes("\u001b[36;44mI'm blue\u001b[0m")).toBe("I'm blue")
    expect(removeControlChars('a\u0000b\u007fc\ufeffd\u206ae\ufffcf\t\n\f\r')).toBe('abcdef\t\n\f\r')
    // C1 controls, joiners, musical controls and tag characters stay.
    expect(removeControlChars('\u0085\u200d\u{1d173}\u{e0067}')).toBe('\u0085\u200d\u{1d173}\u{e0067}')
  })

  it('reads C1 controls as Windows-1252', () => {
    expect(fixC1Controls('\u0093hi\u0094 \u0080 \u0081')).toBe('“hi” € \u0081')
  })
})
