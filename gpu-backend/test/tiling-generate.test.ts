// Proof that a whole generation tiles: the latents and image of a tiled run from rolled noise are the run's own
// latents and image, rolled, for a shift that is whole at every stage (read off the graphs' strides and the
// latent sizes: at 384×256, 3 and 6 Stage C cells are 32 and 64 Stage B cells and 128 and 256 pixels). The text
// conditioning does not move with a roll, and attention over image tokens does not care about their order, so
// only the borders could break it. Both sampling loops (host, and device graphs on the CPU provider), both
// families, guidance on in both stages; "x" and "y" wrap their own axis only, and an untiled run does not commute.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { relErr } from '../../test/parity/golden.ts'
import { convertModel } from '../src/compiler/convert.ts'
import type { Family } from '../src/compiler/manifest.ts'
import { type GenerateRequest, type GenerateResult, generate } from '../src/pipeline/generate.ts'
import { latentSizes } from '../src/pipeline/latents.ts'
import { type LoadedModel, loadModel } from '../src/pipeline/model.ts'
import { type NoiseSource, seededNoise } from '../src/pipeline/noise.ts'
import type { HostTensor } from '../src/pipeline/tensor.ts'
import { tilingProblems } from '../src/pipeline/tiling.ts'
import { roll, type Shift, type StageShifts, wholeShifts } from './roll.ts'
import { tiledTinyModel } from './tiled-tiny.ts'

const TOL = 1e-5
const MOVED = 1e-3
const FAMILIES: Family[] = ['stable-cascade', 'wuerstchen-v2']
const SEED = 9

const request: GenerateRequest = {
  width: 384,
  height: 256,
  images: [{ seed: SEED, prompt: 'terracotta tiles', negativePrompt: 'seams' }],
  priorSteps: 3,
  priorGuidance: 4,
  decoderSteps: 2,
  decoderGuidance: 1.5,
  tiling: 'xy',
}

/** The seeded noise with every draw of each stage rolled by that stage's shift. */
function rolledNoise(shifts: StageShifts): NoiseSource {
  const base = seededNoise([SEED])
  return { draw: (stage, draw, shape) => roll(base.draw(stage, draw, shape), shape, shifts[stage]) }
}

const rolled = (t: HostTensor, s: Shift) => roll(t.data, t.dims, s)

/** Largest relErr between `moved` and `base` rolled, over the prior, the decoder latent and the image. */
function commuteError(base: GenerateResult, moved: GenerateResult, s: StageShifts): number {
  return Math.max(
    relErr(moved.prior.data, rolled(base.prior, s.c)),
    relErr(moved.decoder.data, rolled(base.decoder, s.b)),
    relErr(moved.decoded.data, rolled(base.decoded, s.image)),
  )
}

/** The shifts with one axis left in place. */
const only = (s: StageShifts, axis: 0 | 1): StageShifts => {
  const keep = (v: Shift): Shift => (axis === 0 ? [v[0], 0] : [0, v[1]])
  return { c: keep(s.c), b: keep(s.b), image: keep(s.image) }
}

describe.each(FAMILIES)('%s', (family) => {
  const models = {} as Record<'host' | 'device', LoadedModel>
  let shifts: StageShifts
  let checkpoints: string
  beforeAll(async () => {
    const tiny = await tiledTinyModel(family, 4)
    const { dir } = tiny
    checkpoints = tiny.checkpoints
    models.host = await loadModel(dir)
    models.device = await loadModel(dir, { loop: 'device' })
    shifts = wholeShifts(models.host.manifest, latentSizes(family, request.width, request.height), [1, 2])
    expect(shifts).toEqual({ c: [3, 6], b: [32, 64], image: [128, 256] })
  })

  it.each(['host', 'device'] as const)(
    'tiled on both axes, %s loop: rolled noise, rolled latents and image',
    async (loop) => {
      const model = models[loop]
      const base = await generate(model, request, { noise: seededNoise([SEED]) })
      const moved = await generate(model, request, { noise: rolledNoise(shifts) })
      const err = commuteError(base, moved, shifts)
      console.log(`${family} ${loop} loop: ${err.toExponential(2)}`)
      expect(err).toBeLessThan(TOL)
    },
  )

  it('"x" wraps left and right only, "y" top and bottom only', async () => {
    const model = models.host
    for (const [tiling, wraps, stays] of [
      ['x', 1, 0],
      ['y', 0, 1],
    ] as const) {
      const req = { ...request, tiling }
      const base = await generate(model, req, { noise: seededNoise([SEED]) })
      const along = only(shifts, wraps)
      const across = only(shifts, stays)
      const errAlong = commuteError(base, await generate(model, req, { noise: rolledNoise(along) }), along)
      const errAcross = commuteError(base, await generate(model, req, { noise: rolledNoise(across) }), across)
      console.log(
        `${family} tiling ${tiling}: along ${errAlong.toExponential(2)}, across ${errAcross.toExponential(2)}`,
      )
      expect(errAlong).toBeLessThan(TOL)
      expect(errAcross).toBeGreaterThan(MOVED)
    }
  })

  it('an untiled generation does not commute with the shift', async () => {
    const { tiling: _, ...plain } = request
    const base = await generate(models.host, plain, { noise: seededNoise([SEED]) })
    expect(
      commuteError(base, await generate(models.host, plain, { noise: rolledNoise(shifts) }), shifts),
    ).toBeGreaterThan(MOVED)
  })

  it('refuses, before the first step, sizes that would not wrap and a model without tile graphs', async () => {
    const seen: string[] = []
    const onStep = () => seen.push('step')
    // 296 px: a Stage B latent 74 cells wide, not a multiple of Stage B's stride 16.
    await expect(generate(models.host, { ...request, width: 296 }, { onStep })).rejects.toThrow(
      /tiling: the Stage B latent is 74 cells wide, not a multiple of its stride 16/,
    )
    // Only a wrapped axis counts.
    const sizes = latentSizes(family, 296, 256)
    expect(tilingProblems(models.host.manifest, sizes, 'y')).toEqual([])
    expect(tilingProblems(models.host.manifest, sizes, 'x')).toHaveLength(1)
    const untiled = mkdtempSync(join(tmpdir(), 'untiled-'))
    await convertModel({ family, from: checkpoints, outDir: untiled, variant: 'tiny' })
    const model = await loadModel(untiled)
    expect(model.tileStages).toBeUndefined()
    await expect(generate(model, request, { onStep })).rejects.toThrow(
      /tiling: .* has no tile graphs \(convert it with --tiling\)/,
    )
    expect(seen).toEqual([])
  })
})
