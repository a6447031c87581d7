// Proof that the tile graphs tile: with circular borders a graph commutes with circular shifts by multiples of its
// stride, graph(roll(x, s)) = roll(graph(x), s·scale), within 1e-5, for every tile graph of both families (tiny
// models from make-tiny, converted with --tiling: the real architectures). The shifts are whole at every stage of a 384×256 image, read
// off the graphs' configs and the family's latent sizes. Each axis mode wraps exactly its axes; with none, the
// tile graph is the plain graph (which the parity suite checks against the official code), and the plain graph
// does not commute with shifts.
//
// Würstchen v2's prior is conditioned as a trained one is (tiled-tiny.ts).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { relErr } from '../../test/parity/golden.ts'
import { rng } from '../src/compiler/make-tiny.ts'
import { type Family, Manifest, TILE_GRAPHS } from '../src/compiler/manifest.ts'
import { readConfigFile } from '../src/compiler/models/config.ts'
import { sourceStem } from '../src/compiler/source-files.ts'
import { loadCheckpoint, stageSpec } from '../src/compiler/stages.ts'
import { tileGeometry } from '../src/compiler/tile-geometry.ts'
import { latentSizes } from '../src/pipeline/latents.ts'
import { createSession, ort } from '../src/runtime/session.ts'
import { roll, type Shift, type StageShifts, wholeShifts } from './roll.ts'
import { tiledTinyModel } from './tiled-tiny.ts'

const TOL = 1e-5
/** Clearly not equal: what a graph that does not wrap gives. */
const MOVED = 1e-3
const WIDTH = 384
const HEIGHT = 256
const FAMILIES: Family[] = ['stable-cascade', 'wuerstchen-v2']
type Stage = keyof typeof TILE_GRAPHS

/** The spatial inputs of each stage's graph, the stage whose cells they are in, and the output. */
const SPATIAL: Record<
  Stage,
  { inputs: Record<string, keyof StageShifts>; output: [string, keyof StageShifts] }
> = {
  c: { inputs: { x: 'c' }, output: ['eps', 'c'] },
  b: { inputs: { x: 'b', effnet: 'c' }, output: ['eps', 'b'] },
  a: { inputs: { latent: 'b' }, output: ['image', 'image'] },
}

interface Fixture {
  dir: string
  manifest: Manifest
  shifts: StageShifts
  /** The checkpoints the model directory was converted from. */
  checkpoints: string
}

function axes(stage: Stage, f: Fixture): Record<string, number> {
  const { c, b } = latentSizes(f.manifest.family, WIDTH, HEIGHT)
  const spatial: Record<string, number> =
    stage === 'c'
      ? { height: c[0], width: c[1] }
      : stage === 'b'
        ? { height: b[0], width: b[1], effnet_height: c[0], effnet_width: c[1] }
        : { latent_height: b[0], latent_width: b[1] }
  return { batch: 2, seq: 8, images: 1, ...spatial }
}

/** Random float inputs for every input but `tiling`, by the session's input shapes. */
function randomFeeds(
  session: ort.InferenceSession,
  sizes: Record<string, number>,
): Record<string, ort.Tensor> {
  const rand = rng(11)
  const feeds: Record<string, ort.Tensor> = {}
  for (const m of session.inputMetadata) {
    if (!m.isTensor) throw new Error(`${m.name} is not a tensor`)
    if (m.name === 'tiling') continue
    const dims = m.shape.map((d) => (typeof d === 'number' ? d : (sizes[d] as number)))
    const n = dims.reduce((p, q) => p * q, 1)
    feeds[m.name] = new ort.Tensor(
      'float32',
      Float32Array.from({ length: n }, () => (m.name === 'r' ? rand() : 2 * rand() - 1)),
      dims,
    )
  }
  return feeds
}

const tiling = (y: boolean, x: boolean) => new ort.Tensor('bool', Uint8Array.of(y ? 1 : 0, x ? 1 : 0), [2])

/** relErr of graph(roll(inputs)) against roll(graph(inputs)), the stage's whole shifts scaled per axis by `on`. */
async function commuteError(
  session: ort.InferenceSession,
  stage: Stage,
  feeds: Record<string, ort.Tensor>,
  shifts: StageShifts,
  on: Shift,
): Promise<number> {
  const { inputs, output } = SPATIAL[stage]
  const scaled = (s: keyof StageShifts): Shift => [shifts[s][0] * on[0], shifts[s][1] * on[1]]
  const rolled = { ...feeds }
  for (const [name, s] of Object.entries(inputs)) {
    const t = feeds[name] as ort.Tensor
    rolled[name] = new ort.Tensor('float32', roll(t.data as Float32Array, t.dims, scaled(s)), t.dims)
  }
  const [name, s] = output
  const plain = (await session.run(feeds))[name] as ort.Tensor
  const moved = (await session.run(rolled))[name] as ort.Tensor
  return relErr(moved.data as Float32Array, roll(plain.data as Float32Array, plain.dims, scaled(s)))
}

/** Checks one tile graph against its plain graph (files, or serialized graphs with their weights inside). */
async function checkTileGraph(
  f: Fixture,
  stage: Stage,
  label: string,
  files: { tile: Graphs; plain: Graphs },
) {
  const tile = await createSession(files.tile)
  const plain = await createSession(files.plain)
  const feeds = randomFeeds(tile, axes(stage, f))
  const err = (session: ort.InferenceSession, y: boolean, x: boolean, on: Shift) =>
    commuteError(session, stage, { ...feeds, tiling: tiling(y, x) }, f.shifts, on)
  const errors = {
    both: await err(tile, true, true, [1, 1]),
    xOnX: await err(tile, false, true, [0, 1]),
    xOnY: await err(tile, false, true, [1, 0]),
    yOnY: await err(tile, true, false, [1, 0]),
    yOnX: await err(tile, true, false, [0, 1]),
  }
  const shown = Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(2)}`)
  console.log(`${label}: ${shown.join(', ')}`)
  expect(errors.both).toBeLessThan(TOL)
  expect(errors.xOnX).toBeLessThan(TOL)
  expect(errors.yOnY).toBeLessThan(TOL)
  expect(errors.xOnY).toBeGreaterThan(MOVED)
  expect(errors.yOnX).toBeGreaterThan(MOVED)

  // No axis wraps: the plain graph's result, and that does not commute.
  const [out] = SPATIAL[stage].output
  const off = await tile.run({ ...feeds, tiling: tiling(false, false) })
  const want = await plain.run(feeds)
  expect(
    relErr((off[out] as ort.Tensor).data as Float32Array, (want[out] as ort.Tensor).data as Float32Array),
  ).toBeLessThan(TOL)
  expect(await commuteError(plain, stage, feeds, f.shifts, [1, 1])).toBeGreaterThan(MOVED)
  await Promise.all([tile.release(), plain.release()])
}

type Graphs = string | Uint8Array

describe.each(FAMILIES)('%s', (family) => {
  const f = {} as Fixture
  beforeAll(async () => {
    Object.assign(f, await tiledTinyModel(family, 2))
    f.manifest = Manifest.parse(JSON.parse(readFileSync(join(f.dir, 'manifest.json'), 'utf8')))
    // Multiples (1, 2): different shifts per axis, so a swapped axis shows.
    f.shifts = wholeShifts(f.manifest, latentSizes(family, WIDTH, HEIGHT), [1, 2])
  })

  it('shifts whole at every stage, from the graphs: Stage C cells -> Stage B cells -> pixels', () => {
    const b = tileGeometry(f.manifest, 'b')
    const a = tileGeometry(f.manifest, 'a')
    expect(f.shifts.b.every((s) => s % b.stride === 0)).toBe(true)
    expect(f.shifts.image).toEqual(f.shifts.b.map((s) => s * a.scale))
    // 384×256: Stage C 6×9 cells, Stage B 64×96, so 3 and 6 Stage C cells are 32 and 64 Stage B cells.
    expect(f.shifts).toEqual({ c: [3, 6], b: [32, 64], image: [128, 256] })
    // At 1024²: 3 Stage C cells (of 24) = 32 Stage B cells (of 256) = 128 pixels.
    expect(wholeShifts(f.manifest, latentSizes(family, 1024, 1024))).toEqual({
      c: [3, 3],
      b: [32, 32],
      image: [128, 128],
    })
  })

  const stages = Object.keys(TILE_GRAPHS) as Stage[]

  it.each(stages)('%s tile graph, as convert --tiling writes it', async (stage) => {
    const name = TILE_GRAPHS[stage]
    const dir = f.dir
    const plain = `${name.replace(/_tile$/, '')}.onnx`
    // It reads the plain graph's weights: no data file of its own.
    expect(f.manifest.files.some((file) => file.path.startsWith(`${name}.onnx.`))).toBe(false)
    await checkTileGraph(f, stage, `${family} ${name}`, {
      tile: join(dir, `${name}.onnx`),
      plain: join(dir, plain),
    })
  })

  // The sharing above holds only while both graphs lay out their external data alike. The tiny models' constants
  // (LayerNorm's ones and zeros, c wide) stay under the 1 KiB external threshold, the released models' do not: at
  // minBytes 0 every initializer that could go external is compared (at Stable Cascade lite's widths the tile graph's
  // extra constants renumbered the plain graph's and Stage B wrote a 2.8 GB copy of its weights).
  it.each(stages)(
    '%s tile graph: the same weights layout as the plain graph, whatever the sizes',
    (stage) => {
      const stem = join(f.checkpoints, sourceStem(stage, 'tiny'))
      const kwargs = readConfigFile(`${stem}.json`)
      const spec = stageSpec(family, stage)
      const layout = (tiling: boolean) => {
        const built = spec
          .build(loadCheckpoint([`${stem}.safetensors`]), kwargs, { tiling })
          .find((b) => spec.tiles?.includes(b.file))
        if (!built) throw new Error(`${family} stage ${stage} has no tile graph`)
        return built.graph.externalLayout(0)
      }
      const plain = layout(false)
      expect(plain.length).toBeGreaterThan(0)
      expect(layout(true)).toBe(plain)
    },
  )

  // The unfused graphs (the official forward op for op: gammas, zero pixels, no row bands) wrap the same way.
  it.each(stages)('%s tile graph, unfused', async (stage) => {
    const stem = join(f.checkpoints, sourceStem(stage, 'tiny'))
    const kwargs = readConfigFile(`${stem}.json`)
    const spec = stageSpec(family, stage)
    const build = (tiling: boolean) => {
      const sd = loadCheckpoint([`${stem}.safetensors`])
      const built = spec.build(sd, kwargs, { fused: false, tiling }).find((b) => spec.tiles?.includes(b.file))
      if (!built) throw new Error(`${family} stage ${stage} has no tile graph`)
      return built.graph.serialize()
    }
    await checkTileGraph(f, stage, `${family} ${TILE_GRAPHS[stage]} unfused`, {
      tile: build(true),
      plain: build(false),
    })
  })
})
