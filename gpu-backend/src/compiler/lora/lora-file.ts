// A LoRA file as it is shared, read into low-rank pairs: the official format (SC modules/lora.py), the community
// one (kohya / ComfyUI `lora_prior_*`) and PEFT (`lora_A` / `lora_B`). Which weight each pair changes is
// resolve.ts's job; this module only reads keys, ranks and scales.
import { existsSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { SafetensorsFile } from '../weights/safetensors.ts'
import type { LazyTensor } from '../weights/state-dict.ts'

export type LoraFormat = 'official' | 'kohya' | 'peft'

/** The model part a pair belongs to: the diffusion prior (Stage C) or its text encoder. */
export type LoraPart = 'unet' | 'text'

export interface LowRankPair {
  /** The file's own name for the pair (what errors quote). */
  name: string
  part: LoraPart
  /** The module path the file names (kohya: with `_` for `.`; PEFT: dotted); empty for the official format. */
  module: string
  down: LazyTensor
  up: LazyTensor
  /** Multiplies up @ down (before the strength): 1/rank (official), alpha/rank (kohya, PEFT), 1 without alpha. */
  scale: number
}

/** Official learned tokens (ReToken): deltas added to rows `indices` of the token embedding. */
export interface LearnedTokens {
  keys: string[]
  indices: number[]
  deltas: LazyTensor
}

export interface LoraFile {
  path: string
  strength: number
  format: LoraFormat
  pairs: LowRankPair[]
  tokens?: LearnedTokens
}

export class LoraError extends Error {}

/** A LoRA file to merge and its strength (`--lora file[:strength]`). */
export interface LoraSpec {
  path: string
  strength: number
}

/** `file[:strength]` (strength 1 when omitted); a path that exists as given wins over a `:` suffix. */
export function parseLoraSpec(spec: string): LoraSpec {
  const m = /^(.+):([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)$/i.exec(spec)
  if (!m || existsSync(spec)) return { path: spec, strength: 1 }
  return { path: m[1] as string, strength: Number(m[2]) }
}

const OFFICIAL = /^weights\.(\d+)\.lora_(down|up)$/
const KOHYA = /^(lora_prior_(unet|te)_(.+))\.(lora_down\.weight|lora_up\.weight|alpha)$/
const PEFT = /^(.+)\.(lora_A|lora_B)(?:\.default)?\.weight$/
/** PEFT module prefixes of the text encoder; anything else belongs to the prior (diffusers calls it `prior`). */
const PEFT_TEXT_PREFIX = /^(?:base_model\.model\.)?text_encoder\./
const PEFT_UNET_PREFIX = /^(?:base_model\.model\.)?(?:prior\.|unet\.)?/
/** Adapter kinds that are not a plain low-rank product. */
const UNSUPPORTED = /(dora_scale|hada_|lokr_|lora_mid|\.diff(_b)?$|\.w_norm|\.b_norm)/

export function readLoraFile(path: string, strength: number): LoraFile {
  if (!Number.isFinite(strength)) throw new LoraError(`LoRA ${path}: strength must be a number`)
  const file = SafetensorsFile.open(path)
  const keys = [...file.tensors.keys()]
  const lazy = (key: string): LazyTensor => {
    const t = file.get(key)
    return { shape: t.shape, dtype: t.dtype, read: () => file.readFloat32(key) }
  }
  const fail = (msg: string, list: string[]): never => {
    const shown = list.slice(0, 20).join('\n  ')
    const more = list.length > 20 ? `\n  ... and ${list.length - 20} more` : ''
    throw new LoraError(`LoRA ${path}: ${msg}:\n  ${shown}${more}`)
  }
  const unsupported = keys.filter((k) => UNSUPPORTED.test(k))
  if (unsupported.length)
    fail('holds adapter weights other than plain LoRA (DoRA, LoHa, LoKr, LoCon mid weights)', unsupported)

  const format: LoraFormat | undefined = keys.some((k) => OFFICIAL.test(k))
    ? 'official'
    : keys.some((k) => KOHYA.test(k))
      ? 'kohya'
      : keys.some((k) => PEFT.test(k))
        ? 'peft'
        : undefined
  if (!format)
    fail(
      'is not a LoRA file this converter reads (no weights.{i}.lora_down/up, lora_prior_* or lora_A/lora_B keys)',
      keys,
    )
  const read = { official: readOfficial, kohya: readKohya, peft: readPeft }[format as LoraFormat]
  const { pairs, tokens, stray } = read(keys, lazy, file, path)
  if (stray.length) fail(`has keys outside the ${format} format`, stray)
  return { path, strength, format: format as LoraFormat, pairs, ...(tokens ? { tokens } : {}) }
}

interface Parsed {
  pairs: LowRankPair[]
  tokens?: LearnedTokens
  stray: string[]
}
type Reader = (
  keys: string[],
  lazy: (key: string) => LazyTensor,
  file: SafetensorsFile,
  path: string,
) => Parsed

/** A pair whose halves are both present and agree on the rank; else a problem line. */
function pair(
  name: string,
  down: string | undefined,
  up: string | undefined,
  lazy: (key: string) => LazyTensor,
): { down: LazyTensor; up: LazyTensor; rank: number } | string {
  if (!down || !up) return `${name}: ${down ? 'up' : 'down'} half missing`
  const d = lazy(down)
  const u = lazy(up)
  const rank = d.shape[0] ?? 0
  if (u.shape[1] !== rank || rank === 0)
    return `${name}: ranks disagree (down [${d.shape.join(', ')}], up [${u.shape.join(', ')}])`
  return { down: d, up: u, rank }
}

/** `weights.{i}.lora_down/up` (scale 1/rank; module order decides the layer) and ReToken's `embeddings.*`. */
const readOfficial: Reader = (keys, lazy, file) => {
  const halves = new Map<number, { down?: string; up?: string }>()
  const stray: string[] = []
  const tokenKeys: string[] = []
  for (const k of keys) {
    const m = OFFICIAL.exec(k)
    if (m) {
      const i = Number(m[1])
      halves.set(i, { ...halves.get(i), [m[2] as 'down' | 'up']: k })
    } else if (k.startsWith('embeddings.')) tokenKeys.push(k)
    else stray.push(k)
  }
  const pairs: LowRankPair[] = []
  for (const i of [...halves.keys()].sort((a, b) => a - b)) {
    const h = halves.get(i) ?? {}
    const p = pair(`weights.${i}`, h.down, h.up, lazy)
    if (typeof p === 'string') stray.push(p)
    else
      pairs.push({
        name: `weights.${i}`,
        part: 'unet',
        module: '',
        down: p.down,
        up: p.up,
        scale: 1 / p.rank,
      })
  }
  let tokens: LearnedTokens | undefined
  if (tokenKeys.length) {
    const idx = tokenKeys.find((k) => file.get(k).dtype === 'I64')
    const emb = tokenKeys.find((k) => k !== idx && file.get(k).shape.length === 2)
    if (!idx || !emb) stray.push(...tokenKeys)
    else tokens = { keys: tokenKeys, indices: [...file.readInt64(idx)].map(Number), deltas: lazy(emb) }
  }
  return { pairs, ...(tokens ? { tokens } : {}), stray }
}

/** `lora_prior_{unet,te}_<module with _>.{lora_down.weight, lora_up.weight, alpha}`; scale alpha/rank. */
const readKohya: Reader = (keys, lazy, file) => {
  const groups = new Map<
    string,
    { part: LoraPart; module: string; down?: string; up?: string; alpha?: string }
  >()
  const stray: string[] = []
  for (const k of keys) {
    const m = KOHYA.exec(k)
    if (!m) {
      stray.push(k)
      continue
    }
    const [, name, part, module, what] = m as unknown as [string, string, string, string, string]
    const g = groups.get(name) ?? { part: part === 'te' ? 'text' : 'unet', module }
    if (what === 'alpha') g.alpha = k
    else g[what === 'lora_down.weight' ? 'down' : 'up'] = k
    groups.set(name, g)
  }
  const pairs: LowRankPair[] = []
  for (const [name, g] of groups) {
    const p = pair(name, g.down, g.up, lazy)
    if (typeof p === 'string') {
      stray.push(p)
      continue
    }
    const alpha = g.alpha === undefined ? p.rank : (file.readFloat32(g.alpha)[0] as number)
    pairs.push({ name, part: g.part, module: g.module, down: p.down, up: p.up, scale: alpha / p.rank })
  }
  return { pairs, stray }
}

/** PEFT adapter settings that decide the scale: adapter_config.json beside the file, when there is one. */
interface AdapterConfig {
  lora_alpha?: number
  r?: number
  use_rslora?: boolean
  alpha_pattern?: Record<string, number>
  rank_pattern?: Record<string, number>
}

function adapterConfig(path: string): AdapterConfig | undefined {
  const p = join(dirname(path), 'adapter_config.json')
  if (!existsSync(p)) return undefined
  const cfg = JSON.parse(readFileSync(p, 'utf8')) as AdapterConfig
  if (Object.keys(cfg.alpha_pattern ?? {}).length || Object.keys(cfg.rank_pattern ?? {}).length)
    throw new LoraError(
      `LoRA ${path}: ${basename(p)} sets per-module alpha_pattern / rank_pattern, which this converter does not apply`,
    )
  return cfg
}

/**
 * `<module>.lora_A.weight` (down) / `lora_B.weight` (up), optional `<module>.alpha`. Scale: lora_alpha/r from
 * adapter_config.json (lora_alpha/√r with use_rslora), else alpha = rank (scale 1), as diffusers assumes.
 */
const readPeft: Reader = (keys, lazy, file, path) => {
  const cfg = adapterConfig(path)
  const groups = new Map<string, { down?: string; up?: string; alpha?: string }>()
  const stray: string[] = []
  for (const k of keys) {
    const m = PEFT.exec(k)
    const alpha = /^(.+)\.alpha$/.exec(k)
    const module = m?.[1] ?? alpha?.[1]
    if (!module) {
      stray.push(k)
      continue
    }
    const g = groups.get(module) ?? {}
    if (m) g[m[2] === 'lora_A' ? 'down' : 'up'] = k
    else g.alpha = k
    groups.set(module, g)
  }
  const pairs: LowRankPair[] = []
  for (const [name, g] of groups) {
    const p = pair(name, g.down, g.up, lazy)
    if (typeof p === 'string') {
      stray.push(p)
      continue
    }
    const alpha =
      g.alpha !== undefined ? (file.readFloat32(g.alpha)[0] as number) : (cfg?.lora_alpha ?? p.rank)
    const scale = cfg?.use_rslora && g.alpha === undefined ? alpha / Math.sqrt(p.rank) : alpha / p.rank
    const text = PEFT_TEXT_PREFIX.test(name)
    const module = name.replace(text ? PEFT_TEXT_PREFIX : PEFT_UNET_PREFIX, '')
    pairs.push({ name, part: text ? 'text' : 'unet', module, down: p.down, up: p.up, scale })
  }
  return { pairs, stray }
}
