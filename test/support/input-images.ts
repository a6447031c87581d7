// Input images for the image-mode suites, made in Node (sharp) and handed to workerd suites through `provide` as
// base64: well-formed ones (a photo, an alpha PNG for OpenAI's mask-less edit, a mask, an edge map) and hostile
// ones (the edge must refuse each from its header alone, or the backend after decoding it), each with what the
// service must answer.
import { deflateSync } from 'node:zlib'
import sharp from 'sharp'
import { pngChunk as chunk } from '../../gpu-backend/src/pipeline/png-text.ts'

export const PHOTO_SIZE = { width: 96, height: 64 }

/** What the service answers for an input: accepted, or refused naming the field (by whom). */
export type Verdict = 'ok' | 'edge' | 'backend'

export interface InputImage {
  bytes: Uint8Array
  /** For the image field of a request. */
  verdict: Verdict
  what: string
}

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)
const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts))

function ihdr(width: number, height: number): Uint8Array {
  const d = new Uint8Array(13)
  const v = new DataView(d.buffer)
  v.setUint32(0, width)
  v.setUint32(4, height)
  d.set([8, 2, 0, 0, 0], 8) // 8-bit RGB
  return chunk('IHDR', d)
}

/** A well-formed PNG (valid chunks and CRCs) whose pixel data is not a zlib stream of its pixels. */
const corruptPng = (w: number, h: number) =>
  cat(
    SIGNATURE,
    ihdr(w, h),
    chunk('IDAT', Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)),
    chunk('IEND', new Uint8Array()),
  )

/** A 30000×30000 header over a few bytes of data: refused before anything is decoded. */
const bombPng = () =>
  cat(
    SIGNATURE,
    ihdr(30000, 30000),
    chunk('IDAT', deflateSync(new Uint8Array(64))),
    chunk('IEND', new Uint8Array()),
  )

/** An APNG: an acTL chunk before the image data (libvips would show only its first frame). */
function animatedPng(png: Uint8Array): Uint8Array {
  const actl = new Uint8Array(8)
  new DataView(actl.buffer).setUint32(0, 2)
  const at = 8 + 25 // after the signature and IHDR
  return cat(png.subarray(0, at), chunk('acTL', actl), png.subarray(at))
}

const picture = (w: number, h: number, svg: string, background = { r: 220, g: 120, b: 40 }) =>
  sharp({ create: { width: w, height: h, channels: 4, background: { ...background, alpha: 1 } } })
    .composite([{ input: Buffer.from(`<svg width="${w}" height="${h}">${svg}</svg>`) }])
    .removeAlpha()

const BLACK = { r: 0, g: 0, b: 0 }
const bytes = async (p: Promise<Buffer>) => new Uint8Array(await p)

export async function inputImages(): Promise<Record<string, InputImage>> {
  const { width: W, height: H } = PHOTO_SIZE
  const circle = `<circle cx="${W / 2}" cy="${H / 2}" r="${H / 3}" fill="#2040c0"/>`
  const photo = await bytes(picture(W, H, circle).png().toBuffer())
  const hole = `<rect x="${W / 4}" y="${H / 4}" width="${W / 2}" height="${H / 2}" fill="white"/>`
  const rgba = await sharp(photo).ensureAlpha().raw().toBuffer({ resolveWithObject: true })
  for (let y = H / 4; y < (3 * H) / 4; y++)
    for (let x = W / 4; x < (3 * W) / 4; x++) rgba.data[4 * (y * W + x) + 3] = 0
  const raw = { raw: { width: W, height: H, channels: 4 as const } }
  const frames = await Promise.all(
    ['red', 'blue'].map((c) =>
      sharp({ create: { width: W, height: H, channels: 3, background: c } })
        .png()
        .toBuffer(),
    ),
  )
  const noise = new Uint8Array(1200 * 1200 * 3).map(() => Math.floor(Math.random() * 256))
  const all: Record<string, [Promise<Uint8Array> | Uint8Array, Verdict, string]> = {
    photo: [photo, 'ok', 'an RGB PNG'],
    alpha: [
      bytes(sharp(rgba.data, raw).png().toBuffer()),
      'ok',
      'a PNG with transparent pixels (mask-less edit)',
    ],
    mask: [bytes(sharp(rgba.data, raw).png().toBuffer()), 'ok', 'an alpha mask the size of photo'],
    whiteMask: [
      bytes(picture(W, H, hole, BLACK).png().toBuffer()),
      'ok',
      'a mask without alpha: white = repaint',
    ],
    blackMask: [
      bytes(picture(W, H, '', BLACK).png().toBuffer()),
      'ok',
      'a mask without alpha that marks nothing',
    ],
    edges: [
      bytes(picture(W, H, `<circle cx="48" cy="32" r="20" stroke="white" fill="black"/>`).png().toBuffer()),
      'ok',
      'an edge map',
    ],
    jpeg: [bytes(picture(W, H, circle).jpeg().toBuffer()), 'ok', 'a JPEG'],
    webp: [bytes(picture(W, H, circle).webp().toBuffer()), 'ok', 'a WebP'],
    png16: [bytes(picture(W, H, circle).png().toColourspace('rgb16').toBuffer()), 'ok', 'a 16-bit PNG'],
    cmyk: [bytes(picture(W, H, circle).toColourspace('cmyk').jpeg().toBuffer()), 'ok', 'a CMYK JPEG'],
    rotated: [
      bytes(picture(H, W, circle).jpeg().withMetadata({ orientation: 6 }).toBuffer()),
      'ok',
      'a JPEG stored 64×96 with EXIF orientation 6 (shown 96×64)',
    ],
    otherSize: [
      bytes(picture(64, 64, circle).png().toBuffer()),
      'ok',
      'a 64×64 PNG (a mask of the wrong size)',
    ],
    truncatedPng: [photo.subarray(0, Math.floor(photo.length / 2)), 'edge', 'a PNG cut in half'],
    truncatedJpeg: [
      bytes(
        picture(W, H, circle)
          .jpeg()
          .toBuffer()
          .then((b) => b.subarray(0, b.length / 2)),
      ),
      'edge',
      'a JPEG cut in half',
    ],
    wrongMagic: [
      new TextEncoder().encode('GIF89a not really an image at all'),
      'edge',
      'not a PNG, JPEG or WebP',
    ],
    gif: [bytes(sharp(frames[0]).gif().toBuffer()), 'edge', 'a GIF'],
    bomb: [bombPng(), 'edge', 'a 30000×30000 header'],
    tiny: [bytes(picture(8, 8, '').png().toBuffer()), 'edge', 'an 8×8 PNG (below the minimum side)'],
    animatedWebp: [
      bytes(
        sharp(frames, { join: { animated: true } })
          .webp()
          .toBuffer(),
      ),
      'edge',
      'an animated WebP',
    ],
    animatedPng: [animatedPng(photo), 'edge', 'an APNG'],
    tooBig: [
      bytes(
        sharp(noise, { raw: { width: 1200, height: 1200, channels: 3 } })
          .png({ compressionLevel: 0 })
          .toBuffer(),
      ),
      'edge',
      'over 4 MiB',
    ],
    corrupt: [corruptPng(W, H), 'backend', 'a well-formed PNG whose data does not decode'],
  }
  const out: Record<string, InputImage> = {}
  for (const [name, [b, verdict, what]] of Object.entries(all)) out[name] = { bytes: await b, verdict, what }
  return out
}

/** As base64, for `provide` into workerd suites. */
export async function inputImagesBase64(): Promise<
  Record<string, { b64: string; verdict: Verdict; what: string }>
> {
  const images = await inputImages()
  return Object.fromEntries(
    Object.entries(images).map(([k, v]) => [
      k,
      { b64: Buffer.from(v.bytes).toString('base64'), verdict: v.verdict, what: v.what },
    ]),
  )
}
