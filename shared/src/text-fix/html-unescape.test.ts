import { describe, expect, it } from 'vitest'
import { htmlUnescape, unescapeHtml } from './html-unescape.ts'

describe("unescapeHtml (ftfy's unescape_html)", () => {
  it("does ftfy's documented examples", () => {
    expect(unescapeHtml('&lt;tag&gt;')).toBe('<tag>')
    expect(unescapeHtml('&Jscr;ohn &HilbertSpace;ancock')).toBe('𝒥ohn ℋancock')
    expect(unescapeHtml('&checkmark;')).toBe('✓')
    expect(unescapeHtml('P&eacute;rez')).toBe('Pérez')
    expect(unescapeHtml('P&EACUTE;REZ')).toBe('PÉREZ')
    expect(unescapeHtml('BUNDESSTRA&SZLIG;E')).toBe('BUNDESSTRASSE')
    expect(unescapeHtml('&ntilde; &Ntilde; &NTILDE; &nTILDE;')).toBe('ñ Ñ Ñ &nTILDE;')
  })

  it('decodes only complete references', () => {
    expect(unescapeHtml('&amp &notit; this&not that')).toBe('&amp &notit; this&not that')
    expect(unescapeHtml('&#x41; &#66; &#12ab; &#xyz;')).toBe('A B &#12ab; &#xyz;')
    // &LT; is an entity itself, and &LTIMES; starts with the legacy &LT: neither is an upper-cased name.
    expect(unescapeHtml('&LT; &LTIMES;')).toBe('< &LTIMES;')
    // A reference to ';' is left as it is.
    expect(unescapeHtml('&#59;')).toBe('&#59;')
  })

  it('does not read a longer unknown name as a known one', () => {
    expect(unescapeHtml('&BreveX; &Yumlx; &Chix;')).toBe('&BreveX; &Yumlx; &Chix;')
  })
})

describe("htmlUnescape (Python's html.unescape)", () => {
  it('decodes named references, legacy ones without a semicolon too', () => {
    expect(htmlUnescape('tom &amp; jerry')).toBe('tom & jerry')
    expect(htmlUnescape('&amp &ampx &notit; &notin;')).toBe('& &x ¬it; ∉')
    expect(htmlUnescape('&Chi; &Chi) &Xi$ &eta8')).toBe('Χ &Chi) &Xi$ &eta8')
  })

  it('follows Python for numeric references', () => {
    expect(htmlUnescape('&#x1F600; &#65 &#X42;')).toBe('😀 A B')
    expect(htmlUnescape('&#0;|&#13;|&#128;|&#x81;|&#xD800;|&#x110000;')).toBe(
      '\ufffd|\r|€|\x81|\ufffd|\ufffd',
    )
    // Controls and noncharacters are dropped (an HTML5 decoder would keep them).
    expect(htmlUnescape('a&#1;b&#x7f;c&#xFFFF;d&#xFDD0;e&#11;f')).toBe('abcdef')
  })
})
