// How far one result is from another: relative L2 error of tensors, PSNR and SSIM of 8-bit RGB images.
import { ssim as ssimOf } from 'ssim.js'

export interface Rgb8 {
  data: Uint8Array
  width: number
  height: number
}

/** ‖a − b‖₂ / ‖ref‖₂ with `ref` = b (0 when both are zero). */
export function relL2(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) throw new Error(`relL2: ${a.length} values against ${ref.length}`)
  let num = 0
  let den = 0
  for (let i = 0; i < a.length; i++) {
    const r = ref[i] as number
    num += ((a[i] as number) - r) ** 2
    den += r * r
  }
  return den === 0 ? (num === 0 ? 0 : Number.POSITIVE_INFINITY) : Math.sqrt(num / den)
}

function sameSize(a: Rgb8, b: Rgb8): void {
  if (a.width !== b.width || a.height !== b.height || a.data.length !== b.data.length)
    throw new Error(`images of ${a.width}×${a.height} and ${b.width}×${b.height} cannot be compared`)
}

/** PSNR in dB over every RGB byte, peak 255 (Infinity for identical images). */
export function psnr(a: Rgb8, b: Rgb8): number {
  sameSize(a, b)
  let se = 0
  for (let i = 0; i < a.data.length; i++) se += ((a.data[i] as number) - (b.data[i] as number)) ** 2
  const mse = se / a.data.length
  return mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / mse)
}

const rgba = (img: Rgb8) => {
  const out = new Uint8ClampedArray(img.width * img.height * 4)
  for (let p = 0; p < img.width * img.height; p++) {
    out.set(img.data.subarray(3 * p, 3 * p + 3), 4 * p)
    out[4 * p + 3] = 255
  }
  return { data: out, width: img.width, height: img.height }
}

/**
 * Mean SSIM of the luma (Wang et al. 2004 as their reference ssim.m computes it: 11×11 Gaussian window σ 1.5,
 * K = 0.01 / 0.03, images first downsampled so that the smaller side is about 256), via ssim.js.
 */
export function ssim(a: Rgb8, b: Rgb8): number {
  sameSize(a, b)
  return ssimOf(rgba(a), rgba(b), { ssim: 'original' }).mssim
}
