// Where a tile graph commutes with circular shifts: shifting its spatial input by a multiple of `stride` cells
// shifts its output by shift·`scale` cells (on the axes that wrap). Read off the architecture a manifest records
// for the graph: a U-Net's stride is its patch size times 2 per level change (Stable Cascade's Stage C changes
// width, not resolution, between levels), Stage A's decoder upsamples by its pixel shuffle times 2 per level.
import { type Manifest, TILE_GRAPHS } from './manifest.ts'

export interface TileGeometry {
  stride: number
  scale: number
}

export type TileStage = keyof typeof TILE_GRAPHS

function num(config: Record<string, unknown>, key: string, fallback?: number): number {
  const v = config[key] ?? fallback
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new Error(`manifest: the graph config has no positive integer ${key}`)
  return v
}

export function tileGeometry(manifest: Manifest, stage: TileStage): TileGeometry {
  const config = manifest.graphs[TILE_GRAPHS[stage]]?.config
  if (!config) throw new Error(`manifest: no ${TILE_GRAPHS[stage]} graph`)
  if (stage === 'a') return { stride: 1, scale: num(config, 'shuffle') * 2 ** (num(config, 'levels') - 1) }
  // Würstchen v2's prior has neither patches nor levels.
  const patch = num(config, 'patchSize', 1)
  const levels = Array.isArray(config.cHidden) ? config.cHidden.length : 1
  return { stride: stage === 'b' ? patch * 2 ** (levels - 1) : patch, scale: 1 }
}
