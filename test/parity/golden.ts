// Golden-set access for the parity suite: GOLDEN_DIR (default: the repo's copy in test/golden).
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Graph } from '../../gpu-backend/src/compiler/onnx/graph.ts'
import { onnx } from '../../gpu-backend/src/compiler/onnx/proto.ts'
import { SafetensorsFile } from '../../gpu-backend/src/compiler/weights/safetensors.ts'
import type { StateDict } from '../../gpu-backend/src/compiler/weights/state-dict.ts'

const here = dirname(fileURLToPath(import.meta.url))
export const GOLDEN_DIR = resolve(process.env.GOLDEN_DIR ?? join(here, '..', 'golden'))
export const V2_DIR = join(GOLDEN_DIR, 'wuerstchen-v2')

export const goldenPath = (...p: string[]) => join(GOLDEN_DIR, ...p)
export const goldenExists = (...p: string[]) => existsSync(goldenPath(...p))

export interface GoldenTensor {
  shape: number[]
  data: Float32Array
}

/** Every float tensor of a case file (I64 tensors are left to readInt64). */
export function readCase(path: string): {
  file: SafetensorsFile
  get(name: string): GoldenTensor
  has(name: string): boolean
} {
  const file = SafetensorsFile.open(path)
  return {
    file,
    has: (name) => file.tensors.has(name),
    get: (name) => ({ shape: file.get(name).shape, data: file.readFloat32(name) }),
  }
}

/** max |got − ref| / max |ref| (the golden READMEs' relative error). */
export function relErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) throw new Error(`length ${got.length} vs ${ref.length}`)
  let maxDiff = 0
  let maxRef = 0
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs((got[i] as number) - (ref[i] as number))
    if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d
    maxRef = Math.max(maxRef, Math.abs(ref[i] as number))
  }
  return maxDiff / maxRef
}

/** The pipeline call behind a Würstchen v2 sampling file, from its manifest (`files[file].info`). */
export interface V2RunInfo {
  prompt_table_rows: string[]
  pipeline_call: {
    prompt: string | string[]
    guidance_scale: number
    /** The prior's image size (the decoder's follows from the image embeddings). */
    height?: number
    width?: number
    /** diffusers' `timesteps=`: the explicit schedule, final 0 included; null for linspace(1, 0, steps + 1). */
    timesteps?: number[] | null
    /** Images per prompt (the prior; text states repeat_interleave'd, default 1). */
    num_images_per_prompt?: number | null
  }
}

export function v2RunInfo(file: string): V2RunInfo {
  const manifest = JSON.parse(readFileSync(join(V2_DIR, 'manifest.json'), 'utf8')) as {
    files: Record<string, { info?: V2RunInfo }>
  }
  const info = manifest.files[file]?.info
  if (!info) throw new Error(`wuerstchen-v2/manifest.json has no info for ${file}`)
  return info
}

/**
 * The recorded torch time-embedding table (configs/time_embedding.json) and the forward tolerance the README
 * gives with it (2e-5) or without it (5e-4, when the model's c_r has no recorded table).
 */
export function timeEmbeddingTable(cR: number): { timeFreqs?: Float32Array; tolerance: number } {
  const path = goldenPath('configs', 'time_embedding.json')
  if (!existsSync(path)) return { tolerance: 5e-4 }
  const t = JSON.parse(readFileSync(path, 'utf8')) as { c_r: number; freqs_float32_bits_hex: string[] }
  if (t.c_r !== cR) return { tolerance: 5e-4 }
  const bits = Uint32Array.from(t.freqs_float32_bits_hex, (h) => Number.parseInt(h, 16))
  return { timeFreqs: new Float32Array(bits.buffer), tolerance: 2e-5 }
}

/** Bytes of a checkpoint's tensors (those whose key matches) as float32: what a graph compiled from it should
 * store, each weight once. */
export function checkpointBytes(sd: StateDict, key: RegExp = /./): number {
  return sd
    .keys()
    .filter((k) => key.test(k))
    .reduce((n, k) => n + 4 * (sd.shapeOf(k) ?? []).reduce((a, b) => a * b, 1), 0)
}

/** Bytes of a graph's initializers whose name matches, read back from the serialized model. */
export function storedBytes(g: Graph, name: RegExp): number {
  return (onnx.ModelProto.decode(g.serialize()).graph?.initializer ?? [])
    .filter((t) => name.test(t.name ?? ''))
    .reduce((n, t) => n + (t.rawData?.length ?? 0), 0)
}

/** Room for the small constants (shapes, scalars) a graph adds to its checkpoint's weights. */
export const GRAPH_CONSTANT_BYTES = 4096
