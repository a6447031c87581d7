// The official CannyFilter (SC modules/controlnet.py, resize 224 in the canny ControlNet's inference config):
// the hint of the canny ControlNet. Bilinear to 224×224 (aspect not kept), ×255 truncated to uint8, cv2.Canny
// with thresholds 100 / 200, /255, bilinear back to the input size: a soft one-channel edge map in [0, 1].
import type { HostTensor } from '../pipeline/tensor.ts'
import { resizeBilinear } from './bilinear-resize.ts'
import { canny } from './canny.ts'

export interface CannyFilterOptions {
  /** Side of the square the edges are found at (official 224). */
  resize?: number
  low?: number
  high?: number
}

/** image (B, 3, H, W) in [0, 1] -> hint (B, 1, H, W) in [0, 1]. */
export function cannyFilter(image: HostTensor, o: CannyFilterOptions = {}): HostTensor {
  const [batch = 0, channels = 0, height = 0, width = 0] = image.dims
  const size = o.resize ?? 224
  const small = resizeBilinear(image, size, size)
  const plane = size * size
  const edges = new Float32Array(batch * plane)
  for (let b = 0; b < batch; b++) {
    const planes = Array.from({ length: channels }, (_, c) => {
      const src = small.data.subarray((b * channels + c) * plane, (b * channels + c + 1) * plane)
      // numpy's astype(uint8) truncates; values past [0, 255] (inputs outside [0, 1]) saturate here.
      return Uint8Array.from(src, (v) => Math.min(Math.max(Math.trunc(Math.fround(v * 255)), 0), 255))
    })
    const e = canny(planes, size, size, o.low ?? 100, o.high ?? 200)
    edges.set(
      Float32Array.from(e.data, (v) => v / 255),
      b * plane,
    )
  }
  return resizeBilinear({ data: edges, dims: [batch, 1, size, size] }, height, width)
}
