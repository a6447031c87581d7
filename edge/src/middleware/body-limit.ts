// Request body limits: 64 KiB, except what the input images add on the routes that take them, in the body type
// each route takes. A JSON body may carry up to three base64 images beyond its 64 KiB of other fields (counted
// without the image strings), a multipart body up to three image files. Any other body keeps the 64 KiB. Reading
// stops at the limit, declared or chunked (hono's bodyLimit).
import type { Context, MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { INPUT_LIMITS } from '../../../shared/src/index.ts'
import type { AppEnv } from '../env.ts'
import { ApiError } from '../errors.ts'

export const MAX_BODY = 64 * 1024
const BASE64_IMAGE = Math.ceil(INPUT_LIMITS.maxBytes / 3) * 4 + 1024
export const MAX_IMAGE_BODY = MAX_BODY + 3 * BASE64_IMAGE

/** The image-carrying JSON fields: image, mask, control.image. */
function imageChars(body: unknown): number {
  if (typeof body !== 'object' || body === null) return 0
  const b = body as { image?: unknown; mask?: unknown; control?: { image?: unknown } }
  const control = typeof b.control === 'object' && b.control !== null ? b.control.image : undefined
  return [b.image, b.mask, control].reduce<number>((n, v) => n + (typeof v === 'string' ? v.length : 0), 0)
}

const tooLarge = (max: number) => new ApiError('payload_too_large', `request body over ${max} bytes`)

/** How a route takes input images: in a JSON body, a multipart body, or not at all. */
export type ImageBodies = 'json' | 'multipart' | undefined

export function requestBodyLimit(opts: {
  takesImages: (c: Context<AppEnv>) => ImageBodies
}): MiddlewareHandler<AppEnv> {
  const limit = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw tooLarge(maxSize)
      },
    })
  const small = limit(MAX_BODY)
  const large = limit(MAX_IMAGE_BODY)
  // Not async: hono's bodyLimit rejects at once when a declared length is too large, and the caller must get that
  // very promise (an async wrapper hands it over a tick later, which workerd reports as an unhandled rejection).
  return function requestBodyLimitMiddleware(c, next) {
    const takes = opts.takesImages(c)
    const type = c.req.header('Content-Type') ?? ''
    const json = /json/i.test(type)
    if (!takes || !(takes === 'json' ? json : /^multipart\/form-data/i.test(type))) return small(c, next)
    return large(c, async () => {
      if (json) {
        const size = (await c.req.arrayBuffer()).byteLength
        if (size > MAX_BODY) {
          let parsed: unknown
          try {
            parsed = JSON.parse(await c.req.text())
          } catch {} // malformed JSON: the validator answers 400
          // Base64 is ASCII: its characters are its bytes.
          if (size - imageChars(parsed) > MAX_BODY) throw tooLarge(MAX_BODY)
        }
      }
      await next()
    })
  }
}
