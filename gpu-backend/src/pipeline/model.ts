// A loaded model directory (written by `cascade convert` / `make-tiny`): manifest, stage sessions, text
// encoders and the family's samplers, everything the pipeline needs.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { MODELS, type ModelId } from '../../../shared/src/index.ts'
import { type Family, Manifest } from '../compiler/manifest.ts'
import { createSession, type ort, type SessionOptions } from '../runtime/session.ts'
import { DEFAULT_STAGE_C_TIMESTEPS, ddpmWuerstchen } from '../samplers/ddpm-wuerstchen.ts'
import { gdfDdpm } from '../samplers/gdf-ddpm.ts'
import type { Sampler } from '../samplers/sampler.ts'
import { ClipTokenizer } from '../text/tokenizer.ts'
import type { DiffusionStage } from './tensor.ts'
import { type EncoderSession, OnnxTextEncoders, type TextEncoders } from './text.ts'

export interface LoadedModel {
  dir: string
  id: ModelId
  manifest: Manifest
  stages: { c: ort.InferenceSession; b: ort.InferenceSession; a: ort.InferenceSession }
  /** Absent when the directory has no text encoder graph: text states must then be injected. */
  text?: TextEncoders
  samplers: Record<DiffusionStage, Sampler>
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

export async function loadModel(dir: string, opts: SessionOptions = {}): Promise<LoadedModel> {
  const manifest = Manifest.parse(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')))
  const session = (name: string) => createSession(graphPath(dir, manifest, name), opts)
  const [c, b, a] = await Promise.all([session('stage_c'), session('stage_b'), session('stage_a_decoder')])
  const encoders: EncoderSession[] = []
  for (const name of TEXT_ENCODERS) {
    const g = manifest.graphs[name]
    if (!g) break
    if (!g.tokenizer) throw new Error(`${dir}: manifest names no tokenizer for ${name}`)
    encoders.push({
      session: await session(name),
      tokenizer: ClipTokenizer.fromFiles(join(dir, g.tokenizer)),
    })
  }
  const [first, ...rest] = encoders
  return {
    dir,
    id: modelIdOf(manifest.family, manifest.variant),
    manifest,
    stages: { c, b, a },
    ...(first ? { text: new OnnxTextEncoders([first, ...rest]) } : {}),
    samplers: samplersFor(manifest),
  }
}
