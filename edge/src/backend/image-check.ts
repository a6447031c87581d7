// Cheap checks on encoded images, so a truncated, garbage or wrong-sized answer is never stored under a key.
import type { OutputFormat } from '../../../shared/src/index.ts'

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
const PNG_IEND = [0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]

const startsWith = (b: Uint8Array, sig: number[], at = 0) => sig.every((v, i) => b[at + i] === v)

export function isCompleteImage(format: OutputFormat, b: Uint8Array): boolean {
  switch (format) {
    case 'png':
      return (
        b.length > 20 && startsWith(b, PNG_SIGNATURE) && startsWith(b, PNG_IEND, b.length - PNG_IEND.length)
      )
    case 'jpeg':
      return (
        b.length > 4 &&
        startsWith(b, [0xff, 0xd8, 0xff]) &&
        b[b.length - 2] === 0xff &&
        b[b.length - 1] === 0xd9
      )
    case 'webp': {
      if (
        b.length < 16 ||
        !startsWith(b, [0x52, 0x49, 0x46, 0x46]) ||
        !startsWith(b, [0x57, 0x45, 0x42, 0x50], 8)
      )
        return false
      const riffSize = (b[4] ?? 0) | ((b[5] ?? 0) << 8) | ((b[6] ?? 0) << 16) | ((b[7] ?? 0) << 24)
      return riffSize + 8 === b.length
    }
  }
}

const u16be = (b: Uint8Array, at: number) => ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0)
const u16le = (b: Uint8Array, at: number) => (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8)
const u24le = (b: Uint8Array, at: number) => (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16)
const u32be = (b: Uint8Array, at: number) => ((u16be(b, at) << 16) | u16be(b, at + 2)) >>> 0

/** JPEG: the first start-of-frame segment (SOF0..SOF15 but DHT, JPG, DAC) holds height then width. */
function jpegSize(b: Uint8Array): { width: number; height: number } | undefined {
  let at = 2
  while (at + 9 < b.length && b[at] === 0xff) {
    const marker = b[at + 1] ?? 0
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
      return { height: u16be(b, at + 5), width: u16be(b, at + 7) }
    at += 2 + u16be(b, at + 2)
  }
  return undefined
}

/** WebP: the canvas of VP8X, or the frame header of a simple lossy (VP8) or lossless (VP8L) file. */
function webpSize(b: Uint8Array): { width: number; height: number } | undefined {
  const chunk = String.fromCharCode(...b.subarray(12, 16))
  if (chunk === 'VP8X') return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 }
  if (chunk === 'VP8 ') return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff }
  if (chunk === 'VP8L') {
    const bits = (b[21] ?? 0) | ((b[22] ?? 0) << 8) | ((b[23] ?? 0) << 16) | ((b[24] ?? 0) << 24)
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 }
  }
  return undefined
}

/** The pixel size an encoded image declares; undefined when its header cannot be read. */
export function imageSize(
  format: OutputFormat,
  b: Uint8Array,
): { width: number; height: number } | undefined {
  switch (format) {
    case 'png':
      return b.length > 24 ? { width: u32be(b, 16), height: u32be(b, 20) } : undefined
    case 'jpeg':
      return jpegSize(b)
    case 'webp':
      return b.length > 30 ? webpSize(b) : undefined
  }
}
