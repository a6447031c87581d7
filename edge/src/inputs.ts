// The input images of a request, read before anything is charged, queued or stored: base64 or a data: URL (the
// JSON API) or multipart files (the OpenAI endpoints) -> bytes, each checked from its header alone (a PNG, JPEG
// or WebP; whole; still; within the size and pixel limits; shared input-check.ts) and hashed. A bad input is a
// 400 naming its field. The backend decodes each fully and may still refuse one; its 400 reaches the client.
import {
  checkInputImage,
  type FieldError,
  fromBase64,
  type GenerationRequest,
  type InputField,
  type InputInfo,
  toHex,
} from '../../shared/src/index.ts'
import { ApiError } from './errors.ts'

export interface RequestInputs {
  /** By field: the hash and the size (EXIF orientation applied), for resolveRequest. */
  infos: Partial<Record<InputField, InputInfo>>
  /** By hash, each input once: what the backend is sent. */
  bytes: Map<string, Uint8Array>
}

const DATA_URL = /^data:[\w/+.-]*(?:;[\w=.+-]+)*;base64,/
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Base64 (optionally a data: URL) -> bytes; undefined when it is not base64. */
export function imageDataBytes(data: string): Uint8Array | undefined {
  const b64 = data.replace(DATA_URL, '').replace(/\s+/g, '')
  if (b64.length % 4 === 1 || !BASE64.test(b64)) return undefined
  try {
    return fromBase64(b64)
  } catch {
    return undefined
  }
}

/** The JSON request's image fields, as strings. */
export function jsonInputs(req: GenerationRequest): Partial<Record<InputField, string>> {
  return {
    ...(req.image !== undefined ? { image: req.image } : {}),
    ...(req.mask !== undefined ? { mask: req.mask } : {}),
    ...(req.control ? { 'control.image': req.control.image } : {}),
  }
}

/** Bytes (multipart) or base64 strings (JSON) by field -> checked, hashed inputs; a 400 names each bad one. */
export async function readInputs(
  given: Partial<Record<InputField, Uint8Array | string>>,
): Promise<RequestInputs> {
  const errors: FieldError[] = []
  const out: RequestInputs = { infos: {}, bytes: new Map() }
  for (const [field, value] of Object.entries(given) as [InputField, Uint8Array | string][]) {
    const bytes = typeof value === 'string' ? imageDataBytes(value) : value
    if (!bytes) {
      errors.push({ path: field, message: 'is not base64 (or a base64 data: URL) of an image' })
      continue
    }
    const check = checkInputImage(bytes)
    if (!check.ok) {
      errors.push({ path: field, message: check.message })
      continue
    }
    const sha256 = toHex(await crypto.subtle.digest('SHA-256', bytes))
    out.infos[field] = { sha256, width: check.width, height: check.height }
    out.bytes.set(sha256, bytes)
  }
  if (errors.length) throw new ApiError('invalid_request', `${errors.length} invalid field(s)`, { errors })
  return out
}

export const hasInputs = (given: Partial<Record<InputField, unknown>>) => Object.keys(given).length > 0
