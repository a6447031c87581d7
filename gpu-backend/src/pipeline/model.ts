// A loaded model directory (written by `cascade convert` / `make-tiny`): manifest, stage sessions, text
// encoders and the family's samplers, everything the pipeline needs.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { MODELS, type ModelId } from '../../../shared/src/index.ts'
import { sha256File } from '../compiler/convert.ts'
import { type Family, Manifest, supportsTiling, TILE_GRAPHS } from '../compiler/manifest.ts'
import { type ProviderChoice, type ProviderProbe, selectProvider } from '../runtime/providers.ts'
import { createSession, type ort, type SessionOptions } from '../runtime/session.ts'
import { DEFAULT_STAGE_C_TIMESTEPS, ddpmWuerstchen } from '../samplers/ddpm-wuerstchen.ts'
import { gdfDdpm } from '../samplers/gdf-ddpm.ts'
import type { Sampler } from '../samplers/sampler.ts'
import { ClipTokenizer } from '../text/tokenizer.ts'
import { DeviceGraphs } from './device-graphs.ts'
import { type ImageGraphs, loadImageGraphs, stageCGraphName } from './image-graphs.ts'
import type { DiffusionStage } from './tensor.ts'
import { type EncoderSession, OnnxTextEncoders, type TextEncoders } from './text.ts'

/** Stage C, Stage B and Stage A's decoder: the sessions a text-to-image generation runs. */
export interface StageSessions {
  c: ort.InferenceSession
  b: ort.InferenceSession
  a: ort.InferenceSession
}

export interface LoadedModel {
  dir: string
  id: ModelId
  manifest: Manifest
  /**
   * Stage C is its ControlNet graph when the model has one (image-graphs.ts `stageCGraphName`): the same weights serve
   * text-to-image with zero ControlNet inputs.
   */
  stages: StageSessions
  /**
   * The tile graphs' sessions (compiler/manifest.ts TILE_GRAPHS), loaded on the first tiled generation and kept, so a
   * service that never tiles holds no second copy of the weights; absent when the directory has no tile graphs.
   */
  tileStages?: () => Promise<StageSessions>
  /** Stable Cascade's image graphs the directory has (none for Würstchen v2). */
  image: ImageGraphs
  /** Absent when the directory has no text encoder graph: text states must then be injected. */
  text?: TextEncoders
  samplers: Record<DiffusionStage, Sampler>
  /** The execution provider every session of the model runs on. */
  provider: ProviderProbe
  /** Present when the sampling loops run on the device (sample-on-device.ts). */
  device?: DeviceGraphs
}

/** Text encoder graphs: Stage C's first, then Stage B's own when the family has one (Würstchen v2's CLIP-H). */
const TEXT_ENCODERS = ['text_encoder', 'text_encoder_2'] as const

export function modelIdOf(family: Family, variant: string): ModelId {
  const id =
    family === 'wuerstchen-v2'
      ? 'wuerstchen-v2'
      : variant === 'lite'
        ? 'stable-cascade-lite'
        : 'stable-cascade'
  if (MODELS[id].family !== family) throw new Error(`model id ${id} is not of family ${family}`)
  return id
}

export function samplersFor(manifest: Manifest): Record<DiffusionStage, Sampler> {
  const s = manifest.settings
  if (s.sampler === 'gdf') {
    if (!s.gdf) throw new Error('manifest: sampler "gdf" without gdf settings')
    return {
      c: gdfDdpm({ shift: s.gdf.stage_c_shift, cfgRho: s.gdf.cfg_rho }),
      b: gdfDdpm({ shift: s.gdf.stage_b_shift, cfgRho: s.gdf.cfg_rho }),
    }
  }
  // diffusers' Würstchen prior runs DEFAULT_STAGE_C_TIMESTEPS when no step count is given; the API resolves that
  // default to its 29 model calls, so 29 steps selects it.
  return { c: ddpmWuerstchen({ preset: DEFAULT_STAGE_C_TIMESTEPS }), b: ddpmWuerstchen() }
}

function graphPath(dir: string, manifest: Manifest, name: string): string {
  const g = manifest.graphs[name]
  if (!g) throw new Error(`${dir}: manifest lists no "${name}" graph`)
  const path = join(dir, g.file)
  if (!existsSync(path)) throw new Error(`${dir}: ${g.file} is missing`)
  return path
}

export interface LoadOptions extends Omit<SessionOptions, 'provider' | 'outputsOnDevice'> {
  /** Also hash every file against the manifest (slow for real weights: minutes), not only check its size. */
  verifySha256?: boolean
  /** Default: the CPU. `auto` picks CUDA, else WebGPU, else the CPU (runtime/providers.ts). */
  provider?: ProviderChoice
  /** Where the sampling loops run; default: on the device for a GPU provider, on the host for the CPU. */
  loop?: 'host' | 'device'
}

/** Every file the manifest lists is there with its size (and sha256 if asked); the error names each that is not. */
export async function verifyModelFiles(dir: string, manifest: Manifest, sha256 = false): Promise<void> {
  const problems: string[] = []
  for (const f of manifest.files) {
    const path = join(dir, f.path)
    if (!existsSync(path)) problems.push(`${f.path} is missing`)
    else if (statSync(path).size !== f.bytes)
      problems.push(
        `${f.path} has ${statSync(path).size} bytes, the manifest says ${f.bytes} (truncated or replaced?)`,
      )
    else if (sha256 && (await sha256File(path)) !== f.sha256)
      problems.push(`${f.path} does not match its sha256`)
  }
  if (problems.length) throw new Error(`${dir}: ${problems.join('; ')}`)
}

/** A model directory's manifest.json, validated. */
export function readManifest(dir: string): Manifest {
  const path = join(dir, 'manifest.json')
  if (!existsSync(path))
    throw new Error(`${dir}: no manifest.json (not a model directory from cascade convert)`)
  let json: unknown
  try {
    json = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`)
  }
  const parsed = Manifest.safeParse(json)
  if (!parsed.success) throw new Error(`${path}: not a valid manifest (${parsed.error.issues[0]?.message})`)
  return parsed.data
}

const PLAIN_GRAPHS = { c: 'stage_c', b: 'stage_b', a: 'stage_a_decoder' } as const

/**
 * Opens the three stage sessions. allSettled: a failed load returns only once the others are done (and released),
 * so no native load is still running when the caller tears the thread down (a pipeline worker is terminated on a
 * failed load).
 */
async function openStages(
  open: (stage: keyof StageSessions) => Promise<ort.InferenceSession>,
): Promise<StageSessions> {
  const order = ['c', 'b', 'a'] as const
  const settled = await Promise.allSettled(order.map(open))
  const failed = settled.find((r) => r.status === 'rejected')
  if (failed) {
    await Promise.all(settled.map((r) => (r.status === 'fulfilled' ? r.value.release() : undefined)))
    throw failed.reason
  }
  const [c, b, a] = settled.map((r) => (r as PromiseFulfilledResult<ort.InferenceSession>).value) as [
    ort.InferenceSession,
    ort.InferenceSession,
    ort.InferenceSession,
  ]
  return { c, b, a }
}

export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const { provider: choice = 'cpu', loop, verifySha256, ...sessionOpts } = opts
  const manifest = readManifest(dir)
  await verifyModelFiles(dir, manifest, verifySha256)
  const provider = await selectProvider(choice)
  if (manifest.dtype === 'fp16' && !provider.fp16)
    throw new Error(
      `${dir}: float16 graphs do not run on the ${provider.provider} provider here (${provider.detail}); ` +
        'use a float32 model (cascade convert --dtype fp32) or another provider (ORT_PROVIDER)',
    )
  const onDevice = (loop ?? (provider.provider === 'cpu' ? 'host' : 'device')) === 'device'
  const base = { ...sessionOpts, provider: provider.provider }
  const loaded: ort.InferenceSession[] = []
  const session = async (name: string) => {
    const s = await createSession(graphPath(dir, manifest, name), base)
    loaded.push(s)
    return s
  }
  // Stage C and B leave their outputs on the device for the loop there (sample-on-device.ts).
  const open = (names: Record<keyof StageSessions, string>) =>
    openStages(async (stage) =>
      createSession(graphPath(dir, manifest, names[stage]), {
        ...base,
        outputsOnDevice: onDevice && stage !== 'a',
      }),
    )
  const encoders: EncoderSession[] = []
  let stages: StageSessions
  let image: ImageGraphs
  try {
    stages = await open({ ...PLAIN_GRAPHS, c: stageCGraphName(manifest) })
    loaded.push(stages.c, stages.b, stages.a)
    for (const name of TEXT_ENCODERS) {
      const g = manifest.graphs[name]
      if (!g) break
      if (!g.tokenizer) throw new Error(`${dir}: manifest names no tokenizer for ${name}`)
      encoders.push({
        session: await session(name),
        tokenizer: ClipTokenizer.fromFiles(join(dir, g.tokenizer)),
      })
    }
    image = await loadImageGraphs(dir, manifest, stages.c, (name) => session(name))
  } catch (err) {
    await Promise.all(loaded.map((s) => s.release()))
    throw err
  }
  let tiles: Promise<StageSessions> | undefined
  const [first, ...rest] = encoders
  return {
    dir,
    id: modelIdOf(manifest.family, manifest.variant),
    manifest,
    stages,
    ...(supportsTiling(manifest)
      ? {
          tileStages: () => {
            // A failed load is not kept: the next tiled job tries again.
            tiles ??= open(TILE_GRAPHS).catch((err: unknown) => {
              tiles = undefined
              throw err
            })
            return tiles
          },
        }
      : {}),
    image,
    ...(first ? { text: new OnnxTextEncoders([first, ...rest]) } : {}),
    samplers: samplersFor(manifest),
    provider,
    ...(onDevice ? { device: new DeviceGraphs(base) } : {}),
  }
}

/** The model's graph sessions by graph name (the manifest's): the stages and the text encoders. */
export function modelSessions(model: LoadedModel): Record<string, ort.InferenceSession> {
  const text = model.text instanceof OnnxTextEncoders ? model.text.encoders : []
  return {
    ...Object.fromEntries(text.map((e, i) => [TEXT_ENCODERS[i], e.session])),
    stage_c: model.stages.c,
    stage_b: model.stages.b,
    stage_a_decoder: model.stages.a,
  }
}

/** Frees every session of the model (its native memory); the model cannot run afterwards. */
export async function releaseModel(model: LoadedModel): Promise<void> {
  await Promise.all(Object.values(modelSessions(model)).map((s) => s.release()))
  await model.device?.release()
}
