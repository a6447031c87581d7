// A job's input images, read before the job is queued: each part of the signed body checked against the hashes
// the job names, every input decoded (image/decode.ts), the model's modes checked, and the inputs mapped to the
// pipeline's (pipeline/job-inputs.ts). A refusal is one 400 naming every bad field; `refused_inputs` lists the
// hashes whose bytes cannot be decoded, so the edge can drop them from its input store.
import {
  type BackendJob,
  combinationErrors,
  type FieldError,
  type InputField,
  jobInputHashes,
  problemBody,
  problemResponse,
  unsupportedModeErrors,
} from '../../../shared/src/index.ts'
import type { Manifest } from '../compiler/manifest.ts'
import { type DecodedImage, decodeInputImage, InputImageError } from '../image/decode.ts'
import { capabilitiesOf } from '../pipeline/image-graphs.ts'
import { type JobInputs, jobImageInputs } from '../pipeline/job-inputs.ts'

/** The job's inputs cannot be used: rendered as a 400 problem+json with the fields and undecodable hashes. */
export class InputsRefused extends Error {
  constructor(
    readonly errors: FieldError[],
    readonly refusedInputs: string[] = [],
  ) {
    super(errors.map((e) => `${e.path} ${e.message}`).join('; '))
  }

  response(requestId: string): Response {
    const body = problemBody(
      'invalid_request',
      'the input images cannot be used',
      requestId,
      400,
      this.errors,
    )
    return problemResponse({
      ...body,
      ...(this.refusedInputs.length ? { refused_inputs: this.refusedInputs } : {}),
    })
  }
}

/** Throws InputsRefused unless every hash the job names came with the body, and nothing else did. */
export function checkParts(job: BackendJob, parts: ReadonlyMap<string, Uint8Array>): void {
  const named = jobInputHashes(job)
  const missing = named.filter((h) => !parts.has(h))
  const extra = [...parts.keys()].filter((h) => !named.includes(h))
  if (missing.length || extra.length)
    throw new InputsRefused([
      {
        path: 'inputs',
        message: `the body's input parts do not match the job (missing ${missing.length}, unexpected ${extra.length})`,
      },
    ])
}

export async function readJobInputs(
  job: BackendJob,
  parts: ReadonlyMap<string, Uint8Array>,
  manifest: Manifest,
): Promise<JobInputs> {
  checkParts(job, parts)
  const fieldErrors = [
    ...combinationErrors(job),
    ...unsupportedModeErrors(job, job.model, capabilitiesOf(manifest)),
  ]
  if (fieldErrors.length) throw new InputsRefused(fieldErrors)
  const fields: [InputField, string | undefined][] = [
    ['image', job.image],
    ['mask', job.mask],
    ['control.image', job.control?.image],
  ]
  const errors: FieldError[] = []
  const refused: string[] = []
  const decoded = new Map<InputField, DecodedImage>()
  // One decode per distinct input: the edits endpoint sends an image as its own mask.
  const byHash = new Map<string, Promise<DecodedImage>>()
  for (const [field, hash] of fields) {
    if (hash === undefined) continue
    let p = byHash.get(hash)
    if (!p) {
      p = decodeInputImage(parts.get(hash) as Uint8Array, field)
      p.catch(() => {})
      byHash.set(hash, p)
    }
    try {
      decoded.set(field, await p)
    } catch (err) {
      if (!(err instanceof InputImageError)) throw err
      errors.push({ path: field, message: err.message })
      if (!refused.includes(hash)) refused.push(hash)
    }
  }
  if (errors.length) throw new InputsRefused(errors, refused)
  try {
    return await jobImageInputs(
      job,
      {
        ...(decoded.has('image') ? { image: decoded.get('image') } : {}),
        ...(decoded.has('mask') ? { mask: decoded.get('mask') } : {}),
        ...(decoded.has('control.image') ? { control: decoded.get('control.image') } : {}),
      },
      { width: job.width, height: job.height },
    )
  } catch (err) {
    if (err instanceof InputImageError) throw new InputsRefused([{ path: err.field, message: err.message }])
    throw err
  }
}
