// Generation parameters as PNG text chunks (iTXt, so prompts keep their Unicode), inserted after IHDR of a PNG
// that sharp encoded: sharp writes no text chunks of its own choosing.
import { crc32 } from 'node:zlib'

const SIGNATURE_AND_IHDR = 8 + 4 + 4 + 13 + 4

/** A PNG chunk: length, type, data, CRC-32 of type and data. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, data.length)
  out.set(new TextEncoder().encode(type), 4)
  out.set(data, 8)
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)))
  return out
}

/** iTXt: keyword, NUL, uncompressed (0, 0), empty language tag and translated keyword, then UTF-8 text. */
function itxt(keyword: string, text: string): Uint8Array {
  const enc = new TextEncoder()
  const key = enc.encode(keyword)
  const body = enc.encode(text)
  const data = new Uint8Array(key.length + 5 + body.length)
  data.set(key, 0)
  data.set(body, key.length + 5)
  return pngChunk('iTXt', data)
}

/** `png` with one iTXt chunk per entry, right after IHDR. */
export function withPngText(png: Uint8Array, entries: Record<string, string>): Uint8Array {
  if (new TextDecoder().decode(png.subarray(12, 16)) !== 'IHDR') throw new Error('not a PNG from sharp')
  const chunks = Object.entries(entries).map(([k, v]) => itxt(k, v))
  const out = new Uint8Array(png.length + chunks.reduce((n, c) => n + c.length, 0))
  out.set(png.subarray(0, SIGNATURE_AND_IHDR), 0)
  let at = SIGNATURE_AND_IHDR
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  out.set(png.subarray(SIGNATURE_AND_IHDR), at)
  return out
}
