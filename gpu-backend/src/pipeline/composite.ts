// Inpainting and outpainting keep the input where the mask keeps it: the official recipe regenerates every pixel
// through Stages C, B and A, so the pixels the user did not mask are pasted back into the decoded image (a hard
// mask, at the output's size, resampled as every other use of the input is: inputs.ts).
import { type InputImage, type InputMask, imageTensor, maskTensor } from './inputs.ts'
import type { HostTensor } from './tensor.ts'

/** `images` (B, 3, H, W) with row i's kept pixels from rows[i] (a copy when any row composites). */
export async function compositeKept(
  images: HostTensor,
  rows: readonly ({ image: InputImage; mask: InputMask } | undefined)[],
): Promise<HostTensor> {
  if (rows.every((r) => !r)) return images
  const [, , height = 0, width = 0] = images.dims
  const plane = height * width
  const data = images.data.slice()
  for (const [i, row] of rows.entries()) {
    if (!row) continue
    const source = await imageTensor(row.image, width, height)
    const repaint = (await maskTensor(row.mask, width, height)).data
    for (let c = 0; c < 3; c++) {
      const at = (i * 3 + c) * plane
      for (let p = 0; p < plane; p++) if (!repaint[p]) data[at + p] = source.data[c * plane + p] as number
    }
  }
  return { data, dims: [...images.dims] }
}
