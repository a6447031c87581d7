import { describe, expect, it } from 'vitest'
import { isBad } from './badness.ts'

describe('isBad (ftfy badness heuristic)', () => {
  it('flags sequences typical of UTF-8 read in a single-byte code page', () => {
    for (const text of [
      'Ã³', // Windows-1252: ó
      'â€œquotesâ€\x9d', // C1 control
      'cafÃ©',
      'ÄŒeÅ¡tina',
      'Ð¿Ñ€Ð¸Ð²ÐµÑ‚',
      'r√©gime', // MacRoman
      'Ã la mode', // Ã + space at a word's end
      'Â£10', // Â before the character it encodes
      'вЂ”', // Windows-1251 of the U+2000 block
    ])
      expect(isBad(text), text).toBe(true)
  })

  it('does not flag ordinary text, kaomoji or symbols', () => {
    for (const text of [
      'a cat in the rain',
      'café au lait',
      'Ελληνικά',
      'привет мир',
      '(╯°□°)╯︵ ┻━┻',
      '½ × ¾ = 0.375',
      '£10 or €12',
      '“curly”',
      'ÂÂ',
      'Η ¨ανατροφή¨ δυστυχώς',
    ])
      expect(isBad(text), text).toBe(false)
  })

  it("uses Python's \\s and \\w, not JavaScript's", () => {
    // Whitespace, an upper-case accented letter, a currency sign: U+001C is whitespace to Python, U+FEFF is not.
    expect(isBad('\u2003Ä€')).toBe(true)
    expect(isBad('\u001cÄ€')).toBe(true)
    expect(isBad('\ufeffÄ€')).toBe(false)
    expect(isBad('-Ä€')).toBe(false)
    // An accented letter, end punctuation, then a word character: a letter or digit of any script.
    expect(isBad('é™a')).toBe(true)
    expect(isBad('é™ж')).toBe(true)
    expect(isBad('é™١')).toBe(true)
    expect(isBad('é™-')).toBe(false)
  })
})
