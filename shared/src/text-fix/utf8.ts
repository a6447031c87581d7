// Decoding re-encoded mojibake bytes as UTF-8. Bytes travel as byte strings (code units 0x00-0xFF), the form the
// code-page encoder produces and the byte-level repairs work on.

// fatal: a malformed sequence means "this was not UTF-8", never U+FFFD. ignoreBOM: a leading EF BB BF is text
// (U+FEFF), as in Python, not a byte order mark to drop.
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function toBytes(bytes: string): Uint8Array {
  const out = new Uint8Array(bytes.length)
  for (let i = 0; i < bytes.length; i++) out[i] = bytes.charCodeAt(i)
  return out
}

/** Strict UTF-8 (as Python's): null on malformed, overlong, surrogate or out-of-range sequences. */
export function decodeUtf8(bytes: string): string | null {
  try {
    return strictDecoder.decode(toBytes(bytes))
  } catch {
    return null
  }
}

// The two non-standard forms ftfy's "utf-8-variants" codec accepts on top of UTF-8: Java's two-byte null (C0 80)
// and CESU-8, where an astral character is the UTF-8 of its two UTF-16 surrogates (ED A0-AF xx ED B0-BF xx).
const VARIANT_SEQUENCE = /\xc0\x80|\xed[\xa0-\xaf][\x80-\xbf]\xed[\xb0-\xbf][\x80-\xbf]/g

/** ftfy's utf-8-variants decoding: UTF-8 plus CESU-8 surrogate pairs and C0 80 as U+0000; null where it fails. */
export function decodeUtf8Variants(bytes: string): string | null {
  let out = ''
  let pos = 0
  for (const m of bytes.matchAll(VARIANT_SEQUENCE)) {
    const plain = decodeUtf8(bytes.slice(pos, m.index))
    if (plain === null) return null
    out += plain
    const s = m[0]
    if (s.length === 2) out += '\0'
    else {
      const b = (i: number) => s.charCodeAt(i)
      const high = 0xd800 + ((b(1) & 0x0f) << 6) + (b(2) & 0x3f)
      const low = 0xdc00 + ((b(4) & 0x0f) << 6) + (b(5) & 0x3f)
      out += String.fromCharCode(high, low)
    }
    pos = m.index + s.length
  }
  const rest = decodeUtf8(bytes.slice(pos))
  return rest === null ? null : out + rest
}
