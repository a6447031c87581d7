// Cheap checks on encoded images, so a truncated, garbage or wrong-sized answer is never stored under a key.
import { type OutputFormat, readImageHeader } from '../../../shared/src/index.ts'

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

/** The pixel size an encoded image declares (shared's header reader); undefined when it cannot be read. */
export function imageSize(
  format: OutputFormat,
  b: Uint8Array,
): { width: number; height: number } | undefined {
  const h = readImageHeader(b)
  return h?.format === format ? { width: h.width, height: h.height } : undefined
}
