// The hint of the inpainting / outpainting ControlNet with a user mask (SC modules/controlnet.py InpaintFilter
// with a mask, as the inference notebooks call it): cat([where(mask, 1, image), mask], 1). Masked pixels turn
// white and the fourth channel holds the mask; outpainting is a larger canvas with the new border masked.
import type { HostTensor } from '../pipeline/tensor.ts'

/** image (B, 3, H, W) in [0, 1]; mask (B, 1, H, W), nonzero = regenerate -> hint (B, 4, H, W). */
export function inpaintHint(image: HostTensor, mask: HostTensor): HostTensor {
  const [batch = 0, channels = 0, height = 0, width = 0] = image.dims
  const want = [batch, 1, height, width]
  if (channels !== 3) throw new Error(`inpaint hint: image must be (B, 3, H, W), got [${image.dims}]`)
  if (mask.dims.join() !== want.join())
    throw new Error(`inpaint hint: mask must be [${want}] to match the image, got [${mask.dims}]`)
  const plane = height * width
  const out = new Float32Array(batch * 4 * plane)
  for (let b = 0; b < batch; b++) {
    const m = mask.data.subarray(b * plane, (b + 1) * plane)
    for (let c = 0; c < 3; c++) {
      const src = image.data.subarray((b * 3 + c) * plane, (b * 3 + c + 1) * plane)
      out.set(
        src.map((v, i) => (m[i] !== 0 ? 1 : v)),
        (b * 4 + c) * plane,
      )
    }
    out.set(
      m.map((v) => (v !== 0 ? 1 : 0)),
      (b * 4 + 3) * plane,
    )
  }
  return { data: out, dims: [batch, 4, height, width] }
}
