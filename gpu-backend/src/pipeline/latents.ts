// Latent sizes per family (models.md 7.4). Stable Cascade sizes both stages from the image; diffusers'
// Würstchen derives Stage B from Stage C's size (`latent_dim_scale` 10.67).
import type { Family } from '../compiler/manifest.ts'

/** diffusers' prior `resolution_multiple`. */
const RESOLUTION_MULTIPLE = 42.67
/** diffusers' Würstchen decoder `latent_dim_scale`. */
const LATENT_DIM_SCALE = 10.67

export interface LatentSizes {
  c: [number, number]
  b: [number, number]
}

export function latentSizes(family: Family, width: number, height: number): LatentSizes {
  const c: [number, number] = [
    Math.ceil(height / RESOLUTION_MULTIPLE),
    Math.ceil(width / RESOLUTION_MULTIPLE),
  ]
  const b: [number, number] =
    family === 'stable-cascade'
      ? [Math.ceil(height / 4), Math.ceil(width / 4)]
      : [Math.trunc(c[0] * LATENT_DIM_SCALE), Math.trunc(c[1] * LATENT_DIM_SCALE)]
  return { c, b }
}
