// ftfy's character-level fixes: each maps characters (or short sequences) to what was meant, independent of
// context. fix-text.ts applies them in ftfy's order.
import { decodeCodePage } from './codecs.ts'
import { PY_DIGIT } from './python-chars.ts'

/** C1 controls (U+0080-009F) read as the Windows-1252 characters of the same bytes, as browsers do. */
export function fixC1Controls(text: string): string {
  return text.replace(/[\u0080-\u009f]/g, (c) => decodeCodePage(c, 'sloppy-windows-1252'))
}

// Ligatures of Latin letters are typographic glyphs, rarely meant in text (a copy-paste artifact), and legacy
// digraphs. Not NFKC: ﬅ keeps its long s, and ligatures of other scripts (and æ, œ) stay.
const LIGATURES: Record<string, string> = {
  Ĳ: 'IJ',
  ĳ: 'ij',
  ŉ: 'ʼn',
  Ǳ: 'DZ',
  ǲ: 'Dz',
  ǳ: 'dz',
  Ǆ: 'DŽ',
  ǅ: 'Dž',
  ǆ: 'dž',
  Ǉ: 'LJ',
  ǈ: 'Lj',
  ǉ: 'lj',
  Ǌ: 'NJ',
  ǋ: 'Nj',
  ǌ: 'nj',
  ﬀ: 'ff',
  ﬁ: 'fi',
  ﬂ: 'fl',
  ﬃ: 'ffi',
  ﬄ: 'ffl',
  ﬅ: 'ſt',
  ﬆ: 'st',
}
const LIGATURE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g')

export function fixLatinLigatures(text: string): string {
  return text.replace(LIGATURE, (c) => LIGATURES[c] ?? c)
}

// Full-width ASCII and half-width katakana/hangul (U+FF01-FFEF) to their usual forms (their NFKC, which for this
// block is exactly the intended character), and the ideographic space to a space.
export function fixCharacterWidth(text: string): string {
  return text.replace(/[\uff01-\uffef\u3000]/g, (c) => (c === '\u3000' ? ' ' : c.normalize('NFKC')))
}

/** Curly quotes (and the modifier letter apostrophe ʼ) to straight ones. */
export function uncurlQuotes(text: string): string {
  return text.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'")
}

/** CRLF, CR, U+2028, U+2029 and NEL (U+0085) to LF. */
export function fixLineBreaks(text: string): string {
  return text.replace(/\r\n?|[\u2028\u2029\u0085]/g, '\n')
}

// JS strings already pair surrogates (what ftfy's fix_surrogates does for Python strings), so what remains is to
// replace unpaired ones.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

export function fixSurrogates(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd')
}

// ANSI terminal escapes (colours etc.): ESC [ digits-or-semicolons letter.
const ANSI_ESCAPE = new RegExp(`\\u001b\\[(?:${PY_DIGIT}|;)*[a-zA-Z]`, 'gu')

export function removeTerminalEscapes(text: string): string {
  return text.replace(ANSI_ESCAPE, '')
}

// Controls with no visible effect: C0 except tab, LF, FF, CR; DEL; the deprecated Arabic format controls; the
// byte order mark; interlinear annotation characters and U+FFFC. (C1 controls stay: they are mojibake evidence.)
// biome-ignore lint/suspicious/noControlCharactersInRegex: these control characters are what is removed
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000e-\u001f\u007f\u206a-\u206f\ufeff\ufff9-\ufffc]/g

export function removeControlChars(text: string): string {
  return text.replace(CONTROL_CHARS, '')
}
