// The request key: sha256 hex of the canonical JSON of one image's resolved job (api.md "Cache key"), and the
// resolution of a public request into those jobs: model defaults filled in, prompts normalized, seed derived when
// omitted. Spelled-out defaults and omitted ones resolve to the same job, hence the same key.
import { canonicalJson } from './canonical-json.ts'
import { sha256Hex } from './hex.ts'
import { DEFAULT_MODEL, MODELS, type ModelId } from './models.ts'
import { normalizePrompt } from './prompt-normalize.ts'
import { imageFieldErrors, type ResolveImageOptions, resolveImageFields } from './resolve-images.ts'
import { type BackendJob, JOB_SCHEMA_VERSION, type Job } from './schemas/backend.ts'
import type { GenerationRequest, OutputFormat } from './schemas/generation.ts'
import type { FieldError } from './schemas/problem.ts'

export async function requestKey(job: Job): Promise<string> {
  return sha256Hex(canonicalJson(job))
}

export async function toBackendJob(job: Job): Promise<BackendJob> {
  return { ...job, key: await requestKey(job) }
}

/** For the backend: true when `key` is the key of the rest of the body. */
export async function verifyJobKey(job: BackendJob): Promise<boolean> {
  const { key, ...rest } = job
  return (await requestKey(rest)) === key
}

/** Image i of a request uses seed + i, wrapped to 32 bits. */
export const imageSeed = (seed: number, i: number): number => (seed + i) % 2 ** 32

export interface ResolvedRequest {
  model: ModelId
  n: number
  output_format: OutputFormat
  response_format: 'url' | 'b64_json'
  /** One job per image, seeds seed..seed+n-1. */
  jobs: Job[]
}

export interface ResolveOptions extends ResolveImageOptions {
  /** The models whose backends have tile graphs: only they accept `tiling`. */
  tilingModels?: ReadonlySet<string>
}

export type Resolution = { ok: true; value: ResolvedRequest } | { ok: false; errors: FieldError[] }

/**
 * Resolves a schema-valid request. `modelVersions` maps each enabled model to its weights version (edge config);
 * a model without one is not served here.
 */
export async function resolveRequest(
  req: GenerationRequest,
  modelVersions: Record<string, string>,
  opts: ResolveOptions = {},
): Promise<Resolution> {
  const model = req.model ?? DEFAULT_MODEL
  const info = MODELS[model]
  const errors: FieldError[] = []
  const version = modelVersions[model]
  if (!version) errors.push({ path: 'model', message: `model "${model}" is not enabled on this server` })
  const [, w = '0', h = '0'] = /^(\d+)x(\d+)$/.exec(req.size) ?? []
  const width = Number(w)
  const height = Number(h)
  const { min_size, max_size, size_multiple, max_n } = info.limits
  for (const [name, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (v < min_size || v > max_size || v % size_multiple !== 0)
      errors.push({
        path: 'size',
        message: `${name} ${v} must be a multiple of ${size_multiple} in ${min_size}..${max_size} for ${model}`,
      })
  }
  if (req.n > max_n) errors.push({ path: 'n', message: `n must be at most ${max_n} for ${model}` })
  // false is the spelled-out default: no field, so the key of an untiled request never changes.
  const tiling = req.tiling === true ? 'xy' : req.tiling || undefined
  if (tiling && !opts.tilingModels?.has(model))
    errors.push({
      path: 'tiling',
      message: `${model} cannot tile here: its backends have no tile graphs (GET /v1/models shows \`tiling\`)`,
    })
  // The tile graphs have no ControlNet inputs, and the image encoders no circular borders.
  if (tiling && (req.image !== undefined || req.control !== undefined))
    errors.push({
      path: 'tiling',
      message: 'tiling does not combine with image inputs (variation, img2img, inpainting, ControlNets)',
    })
  const priorSteps = req.prior_steps ?? info.defaults.prior_steps
  errors.push(...imageFieldErrors(req, model, { width, height, priorSteps }, opts))
  if (errors.length || !version) return { ok: false, errors }

  const base: Omit<Job, 'seed'> = {
    v: JOB_SCHEMA_VERSION,
    model,
    model_version: version,
    prompt: normalizePrompt(req.prompt ?? ''),
    negative_prompt: normalizePrompt(req.negative_prompt),
    width,
    height,
    prior_steps: priorSteps,
    prior_guidance: req.prior_guidance ?? info.defaults.prior_guidance,
    decoder_steps: req.decoder_steps ?? info.defaults.decoder_steps,
    decoder_guidance: req.decoder_guidance ?? info.defaults.decoder_guidance,
    output_format: req.output_format,
    ...(tiling ? { tiling } : {}),
    ...resolveImageFields(req, opts),
  }
  const seed = req.seed ?? (await deriveSeed(base))
  const jobs = Array.from({ length: req.n }, (_, i) => ({ ...base, seed: imageSeed(seed, i) }))
  return {
    ok: true,
    value: { model, n: req.n, output_format: req.output_format, response_format: req.response_format, jobs },
  }
}

/** The seed of a request that omits it: the first 32 bits of the hash of everything else (n excluded). */
export async function deriveSeed(base: Omit<Job, 'seed'>): Promise<number> {
  const hex = await sha256Hex(canonicalJson({ ...base, derive: 'seed' }))
  return Number.parseInt(hex.slice(0, 8), 16)
}
