// Tiled generations (request `tiling`): the tile graphs' `tiling` feed, and the latent sizes at which every stage
// wraps exactly (compiler/blocks/borders.ts): a wrapped axis of each latent must be a multiple of its graph's stride.
import type { TilingAxes } from '../../../shared/src/index.ts'
import type { Manifest } from '../compiler/manifest.ts'
import { type TileStage, tileGeometry } from '../compiler/tile-geometry.ts'
import { ort } from '../runtime/session.ts'
import type { LatentSizes } from './latents.ts'

/** Which image axes wrap, in the tile graphs' order: (height, width). */
const WRAPS: Record<TilingAxes, [boolean, boolean]> = { xy: [true, true], x: [false, true], y: [true, false] }

/** The tile graphs' `tiling` input, bool (2). */
export function tilingFeed(axes: TilingAxes): ort.Tensor {
  return new ort.Tensor('bool', Uint8Array.from(WRAPS[axes], Number), [2])
}

/** Why the latents of `sizes` do not wrap exactly on the axes of `axes` (none when they do). */
export function tilingProblems(manifest: Manifest, sizes: LatentSizes, axes: TilingAxes): string[] {
  const problems: string[] = []
  for (const stage of ['c', 'b'] as const satisfies TileStage[]) {
    const { stride } = tileGeometry(manifest, stage)
    WRAPS[axes].forEach((wraps, k) => {
      const n = sizes[stage][k] as number
      if (wraps && n % stride)
        problems.push(
          `tiling: the Stage ${stage.toUpperCase()} latent is ${n} cells ${k ? 'wide' : 'high'}, not a multiple of ` +
            `its stride ${stride}, so the image would not wrap exactly (sizes in multiples of 128 px do)`,
        )
    })
  }
  return problems
}
