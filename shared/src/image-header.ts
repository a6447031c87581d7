// What an encoded PNG, JPEG or WebP says about itself without being decoded: format, stored size, EXIF
// orientation, animation, and whether the file ends where its structure says (a truncated upload does not). The
// edge checks inputs with it before anything is queued or stored, and checks the backend's images; the backend
// checks again before it decodes.
import type { InputFormat } from './schemas/inputs.ts'

export interface ImageHeader {
  format: InputFormat
  /** As stored, before the EXIF orientation. */
  width: number
  height: number
  /** EXIF orientation 1..8 (1 when absent); 5..8 swap width and height. */
  orientation: number
  animated: boolean
  /** The file's structure ends inside the bytes (PNG: IEND; JPEG: EOI after the scan; WebP: the RIFF size). */
  complete: boolean
}

const u16be = (b: Uint8Array, at: number) => ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0)
const u16le = (b: Uint8Array, at: number) => (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8)
const u24le = (b: Uint8Array, at: number) => u16le(b, at) | ((b[at + 2] ?? 0) << 16)
const u32be = (b: Uint8Array, at: number) => ((u16be(b, at) << 16) | u16be(b, at + 2)) >>> 0
const u32le = (b: Uint8Array, at: number) => (u16le(b, at) | (u16le(b, at + 2) << 16)) >>> 0
const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n))
const startsWith = (b: Uint8Array, sig: readonly number[], at = 0) => sig.every((v, i) => b[at + i] === v)

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** The orientation tag (0x0112) of IFD0 in a TIFF structure (EXIF), 1 when absent or unreadable. */
export function exifOrientation(tiff: Uint8Array): number {
  const little = ascii(tiff, 0, 2) === 'II'
  if (!little && ascii(tiff, 0, 2) !== 'MM') return 1
  const u16 = (at: number) => (little ? u16le(tiff, at) : u16be(tiff, at))
  const u32 = (at: number) => (little ? u32le(tiff, at) : u32be(tiff, at))
  const ifd = u32(4)
  const entries = u16(ifd)
  for (let i = 0; i < entries; i++) {
    const at = ifd + 2 + 12 * i
    if (at + 12 > tiff.length) break
    if (u16(at) === 0x0112) {
      const v = u16(at + 8)
      return v >= 1 && v <= 8 ? v : 1
    }
  }
  return 1
}

function png(b: Uint8Array): ImageHeader | undefined {
  if (b.length < 33 || ascii(b, 12, 4) !== 'IHDR') return undefined
  const header: ImageHeader = {
    format: 'png',
    width: u32be(b, 16),
    height: u32be(b, 20),
    orientation: 1,
    animated: false,
    complete: false,
  }
  let at = 8
  while (at + 12 <= b.length) {
    const length = u32be(b, at)
    const type = ascii(b, at + 4, 4)
    const end = at + 12 + length
    if (end > b.length) break
    if (type === 'acTL') header.animated = true
    if (type === 'eXIf') header.orientation = exifOrientation(b.subarray(at + 8, at + 8 + length))
    if (type === 'IEND') {
      header.complete = true
      break
    }
    at = end
  }
  return header
}

function jpeg(b: Uint8Array): ImageHeader | undefined {
  const header: ImageHeader = {
    format: 'jpeg',
    width: 0,
    height: 0,
    orientation: 1,
    animated: false,
    complete: false,
  }
  let at = 2
  while (at + 4 <= b.length && b[at] === 0xff) {
    const marker = b[at + 1] ?? 0
    if (marker === 0xff) {
      at++ // fill byte
      continue
    }
    const length = u16be(b, at + 2)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      header.height = u16be(b, at + 5)
      header.width = u16be(b, at + 7)
    }
    if (marker === 0xe1 && ascii(b, at + 4, 6) === 'Exif\0\0')
      header.orientation = exifOrientation(b.subarray(at + 10, at + 2 + length))
    if (marker === 0xda) {
      // The entropy-coded data stuffs every 0xFF, so FF D9 after the scan header is the end of the image.
      for (let i = b.length - 2; i > at; i--)
        if (b[i] === 0xff && b[i + 1] === 0xd9) {
          header.complete = true
          break
        }
      break
    }
    at += 2 + length
  }
  return header.width && header.height ? header : undefined
}

function webp(b: Uint8Array): ImageHeader | undefined {
  if (b.length < 30 || ascii(b, 8, 4) !== 'WEBP') return undefined
  const header: ImageHeader = {
    format: 'webp',
    width: 0,
    height: 0,
    orientation: 1,
    animated: false,
    complete: u32le(b, 4) + 8 <= b.length,
  }
  const first = ascii(b, 12, 4)
  if (first === 'VP8X') {
    header.animated = ((b[20] ?? 0) & 0x02) !== 0
    header.width = u24le(b, 24) + 1
    header.height = u24le(b, 27) + 1
  } else if (first === 'VP8 ') {
    header.width = u16le(b, 26) & 0x3fff
    header.height = u16le(b, 28) & 0x3fff
  } else if (first === 'VP8L') {
    const bits = u32le(b, 21)
    header.width = (bits & 0x3fff) + 1
    header.height = ((bits >>> 14) & 0x3fff) + 1
  } else return undefined
  // Chunks after the first: ANIM (animation) and EXIF (orientation).
  let at = 12
  const end = Math.min(b.length, u32le(b, 4) + 8)
  while (at + 8 <= end) {
    const type = ascii(b, at, 4)
    const size = u32le(b, at + 4)
    if (type === 'ANIM' || type === 'ANMF') header.animated = true
    if (type === 'EXIF') {
      const exif = b.subarray(at + 8, at + 8 + size)
      header.orientation = exifOrientation(ascii(exif, 0, 6) === 'Exif\0\0' ? exif.subarray(6) : exif)
    }
    at += 8 + size + (size % 2)
  }
  return header
}

/** The header of a PNG, JPEG or WebP; undefined for anything else or a header that cannot be read. */
export function readImageHeader(b: Uint8Array): ImageHeader | undefined {
  if (startsWith(b, PNG_SIGNATURE)) return png(b)
  if (startsWith(b, [0xff, 0xd8, 0xff])) return jpeg(b)
  if (startsWith(b, [0x52, 0x49, 0x46, 0x46])) return webp(b)
  return undefined
}

/** Width and height as shown, the EXIF orientation applied. */
export function orientedSize(h: ImageHeader): { width: number; height: number } {
  return h.orientation >= 5 ? { width: h.height, height: h.width } : { width: h.width, height: h.height }
}
