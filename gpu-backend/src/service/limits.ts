// The model limits a job must respect (shared's registry, the API's bounds) and what the loaded model can do: the
// edge validated the public request, but the backend is the one that pays for an oversized job, so it checks again.
import { type BackendJob, type FieldError, MODELS } from '../../../shared/src/index.ts'
import { type Manifest, supportsTiling } from '../compiler/manifest.ts'

/** api.md: prior_guidance 0..20, decoder_guidance 0..10. */
const MAX_PRIOR_GUIDANCE = 20
const MAX_DECODER_GUIDANCE = 10

export function limitErrors(job: BackendJob): FieldError[] {
  const l = MODELS[job.model].limits
  const errors: FieldError[] = []
  for (const name of ['width', 'height'] as const) {
    const v = job[name]
    if (v < l.min_size || v > l.max_size || v % l.size_multiple !== 0)
      errors.push({
        path: name,
        message: `must be a multiple of ${l.size_multiple} in ${l.min_size}..${l.max_size}`,
      })
  }
  if (job.prior_steps > l.max_prior_steps)
    errors.push({ path: 'prior_steps', message: `must be at most ${l.max_prior_steps}` })
  if (job.decoder_steps > l.max_decoder_steps)
    errors.push({ path: 'decoder_steps', message: `must be at most ${l.max_decoder_steps}` })
  if (job.prior_guidance > MAX_PRIOR_GUIDANCE)
    errors.push({ path: 'prior_guidance', message: `must be at most ${MAX_PRIOR_GUIDANCE}` })
  if (job.decoder_guidance > MAX_DECODER_GUIDANCE)
    errors.push({ path: 'decoder_guidance', message: `must be at most ${MAX_DECODER_GUIDANCE}` })
  return errors
}

/** What the model directory cannot do: a tiled job needs its tile graphs. */
export function capabilityErrors(job: BackendJob, manifest: Manifest): FieldError[] {
  if (!job.tiling || supportsTiling(manifest)) return []
  return [
    {
      path: 'tiling',
      message: `${job.model} has no tile graphs on this backend (convert it with cascade convert --tiling)`,
    },
  ]
}
