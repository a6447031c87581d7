// HTML character references, decoded the two ways the CLIP cleaning does: ftfy's cautious unescape_html (only
// complete `&...;` references, plus upper-cased names such as &EACUTE;) and Python's html.unescape, which CLIP
// applies twice afterwards. Both use the HTML5 entity table; numeric references follow Python, which differs from
// an HTML5 decoder: it drops references to noncharacters and most controls instead of keeping them.
import { decodeCodePage } from './codecs.ts'
import { isLegacyEntity, namedEntity } from './html5-entities.ts'

function isDroppedCodePoint(n: number): boolean {
  return (
    (n >= 0x01 && n <= 0x08) ||
    n === 0x0b ||
    (n >= 0x0e && n <= 0x1f) ||
    (n >= 0x7f && n <= 0x9f) ||
    (n >= 0xfdd0 && n <= 0xfdef) ||
    (n & 0xfffe) === 0xfffe
  )
}

/** Python html's numeric reference `&#<digits>` / `&#x<hex>` (without the `&#` and any `;`). */
function numericReference(digits: string, hex: boolean): string {
  const n = hex ? Number.parseInt(digits, 16) : Number(digits)
  if (n === 0) return '\ufffd'
  if (n === 0x0d) return '\r'
  // Windows-1252 meanings of the C1 range, as browsers read them.
  if (n >= 0x80 && n <= 0x9f) return decodeCodePage(String.fromCharCode(n), 'sloppy-windows-1252')
  if ((n >= 0xd800 && n <= 0xdfff) || n > 0x10ffff) return '\ufffd'
  if (isDroppedCodePoint(n)) return ''
  return String.fromCodePoint(n)
}

const PY_CHARREF = /&(?:#([0-9]+);?|#[xX]([0-9a-fA-F]+);?|[^\t\n\f <&#;]{1,32};?)/gu

/** Python's html.unescape. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text
  return text.replace(PY_CHARREF, (ref, dec: string | undefined, hex: string | undefined) => {
    if (dec !== undefined) return numericReference(dec, false)
    if (hex !== undefined) return numericReference(hex, true)
    return namedReference(ref.slice(1))
  })
}

/** A name and its ';' if any: the entity it names exactly, else the longest legacy entity it starts with. */
function namedReference(s: string): string {
  const exact = s.endsWith(';') ? namedEntity(s.slice(0, -1)) : isLegacyEntity(s) ? namedEntity(s) : undefined
  if (exact !== undefined) return exact
  // "&notit;" -> "¬it;" (legacy names are ASCII, so code units count as Python's code points here).
  for (let n = s.length - 1; n >= 2; n--) {
    const prefix = s.slice(0, n)
    if (isLegacyEntity(prefix)) return (namedEntity(prefix) ?? '') + s.slice(n)
  }
  return `&${s}`
}

const FTFY_REFERENCE = /&#?[0-9A-Za-z]{1,24};/g

function ftfyReference(ref: string): string {
  if (ref.startsWith('&#')) {
    // Only a complete numeric reference, and none that decodes to ';' (ftfy takes a ';' in the result to mean
    // that the reference was not consumed whole).
    const decoded = htmlUnescape(ref)
    return decoded.includes(';') ? ref : decoded
  }
  const name = ref.slice(1, -1)
  const named = namedEntity(name)
  if (named !== undefined) return named
  // A lower-case entity name written in capitals (a database that upper-cased "P&eacute;rez"), unless the capitals
  // mean something else to html.unescape (&LT; or a legacy prefix as in &LTIMES;): its character, upper-cased.
  const lower = name.toLowerCase()
  const char = namedEntity(lower)
  if (char === undefined || name !== lower.toUpperCase() || htmlUnescape(ref) !== ref) return ref
  return char.toUpperCase()
}

/** ftfy's unescape_html: complete `&name;` / `&#n;` references only, and upper-cased names. */
export function unescapeHtml(text: string): string {
  return text.replace(FTFY_REFERENCE, ftfyReference)
}
