// torch.nn.functional.interpolate(mode='bilinear', align_corners=False, no antialias) on the host, as ATen's CPU
// kernel computes it (UpSampleKernel.cpp): per axis a source index and two weights, then two-tap sums in float32,
// width inside, height outside. The Canny filter truncates this result to uint8, so every op is rounded as torch
// rounds it: one ulp can move a pixel across an integer. The golden canny_filter case pins the details: the scale
// in/out is a float32, the source index and the weights are computed from it in double and then rounded.
import type { HostTensor } from '../pipeline/tensor.ts'

const f32 = Math.fround

interface AxisTaps {
  i0: Int32Array
  i1: Int32Array
  w0: Float32Array
  w1: Float32Array
}

/** area_pixel_compute_source_index + guard_index_and_lambda for one axis. */
function axisTaps(inSize: number, outSize: number): AxisTaps {
  const taps = {
    i0: new Int32Array(outSize),
    i1: new Int32Array(outSize),
    w0: new Float32Array(outSize),
    w1: new Float32Array(outSize),
  }
  const scale = f32(inSize / outSize)
  for (let d = 0; d < outSize; d++) {
    if (inSize === outSize) {
      taps.i0[d] = d
      taps.i1[d] = d
      taps.w0[d] = 1
      continue
    }
    const src = Math.max(scale * (d + 0.5) - 0.5, 0)
    const i0 = Math.min(Math.floor(src), inSize - 1)
    const lambda = Math.min(Math.max(src - i0, 0), 1)
    taps.i0[d] = i0
    taps.i1[d] = i0 < inSize - 1 ? i0 + 1 : i0
    taps.w0[d] = f32(1 - lambda)
    taps.w1[d] = f32(lambda)
  }
  return taps
}

/** (B, C, H, W) -> (B, C, height, width). */
export function resizeBilinear(x: HostTensor, height: number, width: number): HostTensor {
  const [batch = 0, channels = 0, inH = 0, inW = 0] = x.dims
  const h = axisTaps(inH, height)
  const w = axisTaps(inW, width)
  const out = new Float32Array(batch * channels * height * width)
  for (let p = 0; p < batch * channels; p++) {
    const src = x.data.subarray(p * inH * inW, (p + 1) * inH * inW)
    const dst = out.subarray(p * height * width, (p + 1) * height * width)
    for (let oy = 0; oy < height; oy++) {
      const r0 = (h.i0[oy] as number) * inW
      const r1 = (h.i1[oy] as number) * inW
      const wy0 = h.w0[oy] as number
      const wy1 = h.w1[oy] as number
      for (let ox = 0; ox < width; ox++) {
        const c0 = w.i0[ox] as number
        const c1 = w.i1[ox] as number
        const wx0 = w.w0[ox] as number
        const wx1 = w.w1[ox] as number
        const t0 = f32(f32((src[r0 + c0] as number) * wx0) + f32((src[r0 + c1] as number) * wx1))
        const t1 = f32(f32((src[r1 + c0] as number) * wx0) + f32((src[r1 + c1] as number) * wx1))
        dst[oy * width + ox] = f32(f32(t0 * wy0) + f32(t1 * wy1))
      }
    }
  }
  return { data: out, dims: [batch, channels, height, width] }
}
