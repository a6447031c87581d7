// Which Hub files a model variant needs, and where each goes in the folder `cascade convert --from` reads
// (models.md section 9): Stable Cascade from stabilityai/stable-cascade (the original-format stage files at the
// root, the bigG text encoder and tokenizer from its diffusers folders); Würstchen v2 from warp-ai/wuerstchen-prior
// (prior, bigG) and warp-ai/wuerstchen (decoder, VQGAN, and its CLIP-H renamed text_encoder_2 / tokenizer_2).
// Only safetensors are taken; half-precision checkpoints for fp16 graphs, full ones for fp32, else what exists.
import type { ListFileEntry } from '@huggingface/hub'
import type { Family } from '../compiler/manifest.ts'
import type { GraphDtype } from '../compiler/onnx/graph.ts'

export const PULL_MODELS = ['stable-cascade', 'stable-cascade-lite', 'wuerstchen-v2'] as const
export type PullModel = (typeof PULL_MODELS)[number]

export interface PlannedFile {
  repo: string
  /** Path in the repository. */
  path: string
  /** Path in the download folder (the `--from` layout). */
  local: string
  size: number
  /** sha256 of the content (Git LFS oid), when the Hub stores the file in LFS. */
  sha256?: string
  /** Git blob id (sha1 of "blob <size>\0" + content) of a file kept in Git itself. */
  gitOid?: string
  /** Bytes per element of a checkpoint (2 for bf16/fp16 files, 4 for fp32); absent for other files. */
  elementBytes?: 2 | 4
}

export interface Plan {
  family: Family
  variant: string
  repos: string[]
  files: PlannedFile[]
}

/** A folder's files the converter needs, or one stage checkpoint at the repository root. */
type Need =
  | { kind: 'checkpoint'; dir: string; to: string; config: boolean }
  | { kind: 'tokenizer'; dir: string; to: string }
  | { kind: 'root-stage'; stem: string }

const TOKENIZER_REQUIRED = ['vocab.json', 'merges.txt']
const TOKENIZER_OPTIONAL = ['special_tokens_map.json', 'tokenizer_config.json']

function needs(
  model: PullModel,
  variant: string,
): { family: Family; variant: string; repos: Record<string, Need[]> } {
  if (model === 'wuerstchen-v2')
    return {
      family: 'wuerstchen-v2',
      variant: 'v2',
      repos: {
        'warp-ai/wuerstchen-prior': [
          { kind: 'checkpoint', dir: 'prior', to: 'prior', config: true },
          { kind: 'checkpoint', dir: 'text_encoder', to: 'text_encoder', config: true },
          { kind: 'tokenizer', dir: 'tokenizer', to: 'tokenizer' },
        ],
        'warp-ai/wuerstchen': [
          { kind: 'checkpoint', dir: 'decoder', to: 'decoder', config: true },
          { kind: 'checkpoint', dir: 'vqgan', to: 'vqgan', config: true },
          { kind: 'checkpoint', dir: 'text_encoder', to: 'text_encoder_2', config: true },
          { kind: 'tokenizer', dir: 'tokenizer', to: 'tokenizer_2' },
        ],
      },
    }
  const lite = variant === 'lite' ? '_lite' : ''
  return {
    family: 'stable-cascade',
    variant,
    repos: {
      'stabilityai/stable-cascade': [
        { kind: 'root-stage', stem: `stage_c${lite}` },
        { kind: 'root-stage', stem: `stage_b${lite}` },
        { kind: 'root-stage', stem: 'stage_a' },
        { kind: 'checkpoint', dir: 'text_encoder', to: 'text_encoder', config: true },
        { kind: 'tokenizer', dir: 'tokenizer', to: 'tokenizer' },
      ],
    },
  }
}

/** `stable-cascade` + `--variant lite` is `stable-cascade-lite`; Würstchen v2 has one variant. */
export function resolveVariant(model: PullModel, variant: string | undefined): string {
  if (model === 'wuerstchen-v2') {
    if (variant && variant !== 'v2') throw new Error(`wuerstchen-v2 has no variant ${variant}`)
    return 'v2'
  }
  const implied = model === 'stable-cascade-lite' ? 'lite' : 'big'
  if (variant && !['big', 'lite'].includes(variant))
    throw new Error(`stable-cascade variants are big and lite, not ${variant}`)
  if (variant && model === 'stable-cascade-lite' && variant !== 'lite')
    throw new Error('stable-cascade-lite is the lite variant; use stable-cascade for big')
  return variant ?? implied
}

/** The repositories a model variant reads (listed before planning). */
export function planRepos(model: PullModel, variant: string | undefined): string[] {
  return Object.keys(needs(model, resolveVariant(model, variant)).repos)
}

const HALF = /[._](fp16|bf16)([-.]\d+-of-\d+)?\.safetensors$/

/**
 * The files to download, from the repositories' listings (`listFiles(recursive)` per repo). Throws naming what a
 * repository lacks.
 */
export function planPull(
  model: PullModel,
  variant: string | undefined,
  dtype: GraphDtype,
  listings: Record<string, ListFileEntry[]>,
): Plan {
  const n = needs(model, resolveVariant(model, variant))
  const files: PlannedFile[] = []
  const missing: string[] = []
  for (const [repo, list] of Object.entries(n.repos)) {
    const byPath = new Map((listings[repo] ?? []).filter((e) => e.type === 'file').map((e) => [e.path, e]))
    const take = (path: string, local: string, elementBytes?: 2 | 4) => {
      const e = byPath.get(path)
      if (!e) return missing.push(`${repo}: ${path}`)
      files.push({
        repo,
        path,
        local,
        size: e.lfs?.size ?? e.size,
        ...(e.lfs ? { sha256: e.lfs.oid } : e.oid ? { gitOid: e.oid } : {}),
        ...(elementBytes ? { elementBytes } : {}),
      })
    }
    /** The preferred precision's files, else the other's. */
    const precision = (candidates: string[]) => {
      const half = candidates.filter((p) => HALF.test(p))
      const full = candidates.filter((p) => !HALF.test(p))
      // int8 weights lose nothing by starting from the half-precision files (half the download).
      const [first, second] = dtype === 'fp32' ? [full, half] : [half, full]
      return first.length ? first : second
    }
    for (const need of list) {
      if (need.kind === 'root-stage') {
        const found = precision(
          [`${need.stem}.safetensors`, `${need.stem}_bf16.safetensors`].filter((p) => byPath.has(p)),
        )
        if (!found.length) missing.push(`${repo}: ${need.stem}[_bf16].safetensors`)
        for (const p of found) take(p, p, HALF.test(p) ? 2 : 4)
      } else if (need.kind === 'checkpoint') {
        const inDir = [...byPath.keys()].filter(
          (p) => p.startsWith(`${need.dir}/`) && !p.slice(need.dir.length + 1).includes('/'),
        )
        const weights = precision(inDir.filter((p) => p.endsWith('.safetensors')))
        if (!weights.length) missing.push(`${repo}: ${need.dir}/*.safetensors`)
        const rename = (p: string) => `${need.to}/${p.slice(need.dir.length + 1)}`
        for (const p of weights) take(p, rename(p), HALF.test(p) ? 2 : 4)
        if (need.config) take(`${need.dir}/config.json`, `${need.to}/config.json`)
      } else {
        for (const f of TOKENIZER_REQUIRED) take(`${need.dir}/${f}`, `${need.to}/${f}`)
        for (const f of TOKENIZER_OPTIONAL)
          if (byPath.has(`${need.dir}/${f}`)) take(`${need.dir}/${f}`, `${need.to}/${f}`)
      }
    }
  }
  if (missing.length)
    throw new Error(`the Hub repositories lack files this model needs:\n  ${missing.join('\n  ')}`)
  return { family: n.family, variant: n.variant, repos: Object.keys(n.repos), files }
}
