import { describe, expect, it } from 'vitest'
import { replaceLossySequences, restoreByteA0 } from './byte-repairs.ts'
import { decodeInconsistentUtf8, fixEncoding } from './mojibake.ts'
import { decodeUtf8, decodeUtf8Variants } from './utf8.ts'

describe('fixEncoding (ftfy.fix_encoding)', () => {
  it("does ftfy's documented examples", () => {
    expect(fixEncoding('Ã³')).toBe('ó')
    expect(fixEncoding('&ATILDE;&SUP3;')).toBe('&ATILDE;&SUP3;')
    expect(fixEncoding('voilÃ le travail')).toBe('voilà le travail')
  })

  it('tries the code pages in order', () => {
    expect(fixEncoding('ÄŒeÅ¡tina')).toBe('Čeština') // Windows-1252
    expect(fixEncoding('РґРѕСЂРѕРіРµ Р\u0098Р·-РїРѕРґ #С„СѓС‚Р±РѕР»')).toBe('дороге Из-под #футбол') // Windows-1251
    expect(fixEncoding('g√¢teaux r√©gime')).toBe('gâteaux régime') // MacRoman
    expect(fixEncoding('×\x90×\x91')).toBe('אב') // Latin-1
    expect(fixEncoding("Ã€ l'aide")).toBe("À l'aide")
  })

  it('restores no-break spaces that became spaces', () => {
    expect(fixEncoding('Ã la mode')).toBe('à la mode')
    expect(fixEncoding('Ã s vezes')).toBe('às vezes')
    expect(fixEncoding('fÃ cil')).toBe('fà cil') // the known cost
  })

  it('decodes what it can around lost bytes', () => {
    expect(fixEncoding('â€œ like this â€\ufffd')).toBe('“ like this \ufffd')
  })

  it('fixes mojibake embedded in text that has no single re-decoding', () => {
    expect(fixEncoding('AHÅ¡ mixed 日本 cafÃ©')).toBe('AHÅ¡ mixed 日本 café')
    expect(decodeInconsistentUtf8('日本 cafÃ©')).toBe('日本 café')
  })

  it('reads C1 controls as Windows-1252, except the five bytes it leaves undefined', () => {
    expect(fixEncoding('He\x93s')).toBe('He“s')
    expect(fixEncoding('a\x81b')).toBe('a\x81b')
  })

  it('decodes CESU-8 (UTF-16 surrogates in UTF-8)', () => {
    expect(fixEncoding('í\xa0½í¸\x80 smile Ã§a')).toBe('😀 smile ça')
  })

  it('leaves ASCII and good text alone', () => {
    for (const text of ['plain ascii', 'café', 'Ελληνικά', 'ÂÂ', '½ × ¾'])
      expect(fixEncoding(text)).toBe(text)
  })
})

describe('byte repairs', () => {
  it('puts back A0 where a space broke a UTF-8 sequence', () => {
    expect(restoreByteA0('\xc3 la')).toBe('\xc3\xa0 la')
    expect(restoreByteA0('\xc3 s ')).toBe('\xc3\xa0s ')
    expect(restoreByteA0('\xe2 \x80')).toBe('\xe2\xa0\x80')
    expect(restoreByteA0('\xc4 ')).toBe('\xc4 ')
  })

  it('turns damaged UTF-8 sequences into the UTF-8 of U+FFFD', () => {
    expect(replaceLossySequences('\xe2\x80\x1a')).toBe('\xef\xbf\xbd')
    expect(replaceLossySequences('\xc3?')).toBe('\xef\xbf\xbd')
    expect(replaceLossySequences('a?b')).toBe('a?b')
  })
})

describe('UTF-8 decoding', () => {
  it('is strict, and keeps a leading BOM', () => {
    expect(decodeUtf8('\xc3\xa9')).toBe('é')
    expect(decodeUtf8('\xef\xbb\xbfa')).toBe('\ufeffa')
    for (const bad of ['\xc3', '\xc0\xaf', '\xed\xa0\x80', '\xf4\x90\x80\x80', '\x80'])
      expect(decodeUtf8(bad)).toBeNull()
  })

  it('accepts CESU-8 pairs and Java nulls as variants', () => {
    expect(decodeUtf8Variants('\xed\xa0\xbd\xed\xb8\x8d')).toBe('😍')
    expect(decodeUtf8Variants('a\xc0\x80b\xc3\xa9')).toBe('a\0bé')
    expect(decodeUtf8Variants('\xed\xa0\xbd')).toBeNull()
    expect(decodeUtf8Variants('\xed\x95\x9c')).toBe('한')
  })
})
