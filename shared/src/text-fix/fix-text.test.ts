import { describe, expect, it } from 'vitest'
import { fixText } from './fix-text.ts'
import ftfyCases from './ftfy-cases.json'
import { fixEncoding } from './mojibake.ts'

interface FtfyCase {
  label: string
  original: string
  fixed: string
  'fixed-encoding'?: string
}

// The UTF-8 bytes of `text` read as Latin-1: one more layer of mojibake.
const latin1OfUtf8 = (text: string) => String.fromCharCode(...new TextEncoder().encode(text))

describe('fixText (ftfy.fix_text)', () => {
  it("does ftfy's documented examples", () => {
    expect(fixText('âœ” No problems')).toBe('✔ No problems')
    expect(fixText('&macr;\\_(ã\x83\x84)_/&macr;')).toBe('¯\\_(ツ)_/¯')
    expect(fixText('sÃ³')).toBe('só')
    expect(fixText('voilÃ le travail')).toBe('voilà le travail')
    expect(fixText('ＬＯＵＤ　ＮＯＩＳＥＳ')).toBe('LOUD NOISES')
    expect(fixText('schÃ¶n')).toBe('schön')
    // The ellipsis stays (ftfy 6 no longer expands it, whatever its docstring says).
    expect(fixText('Broken text&hellip; it&#x2019;s ﬂubberiﬁc!')).toBe("Broken text… it's flubberific!")
  })

  it('repairs mojibake, then uncurls the quotes it finds', () => {
    expect(fixText('â€œmojibake quotesâ€\x9d')).toBe('"mojibake quotes"')
    expect(fixText('cafÃ© and â€œquotesâ€\x9d')).toBe('café and "quotes"')
    expect(fixText('The Mona Lisa doesnâ€™t have eyebrows.')).toBe("The Mona Lisa doesn't have eyebrows.")
    expect(fixText('Ð¿Ñ€Ð¸Ð²ÐµÑ‚')).toBe('привет')
    expect(fixText('Ã\x83Â©')).toBe('é') // two layers
    expect(fixText('\x84Handwerk\x93')).toBe('"Handwerk"') // Windows-1252 read as Latin-1
  })

  it('leaves good text alone', () => {
    for (const text of [
      'café',
      'naïve façade',
      '(╯°□°)╯︵ ┻━┻',
      'ÂÂ',
      'Łódź',
      '一只猫',
      'family 👨\u200d👩\u200d👧\u200d👦',
    ])
      expect(fixText(text)).toBe(text)
  })

  it('works line by line, and stops decoding entities from the first line with a "<" on', () => {
    expect(fixText('Ã©\nÃ©')).toBe('é\né')
    expect(fixText('line &amp; one\n<b>two &amp;</b>\nthree &amp;')).toBe(
      'line & one\n<b>two &amp;</b>\nthree &amp;',
    )
    // Entities decode repeatedly (the fixes run until nothing changes), and may reveal mojibake.
    expect(fixText('tom &amp;amp; jerry')).toBe('tom & jerry')
    expect(fixText('&ATILDE;&SUP3;')).toBe('ó')
  })

  it('is idempotent', () => {
    for (const { original } of (ftfyCases as { cases: FtfyCase[] }).cases) {
      const once = fixText(original)
      expect(fixText(once)).toBe(once)
    }
  })
})

describe("ftfy's own test cases", () => {
  for (const c of (ftfyCases as { cases: FtfyCase[] }).cases) {
    it(c.label, () => {
      expect(fixText(c.original)).toBe(c.fixed)
      expect(fixEncoding(c.original)).toBe(c['fixed-encoding'] ?? c.fixed)
      expect(fixText(latin1OfUtf8(c.original))).toBe(c.fixed)
    })
  }
})
