// RFC 9457 problem details, the body of every error response (api.md "Errors").
import { z } from 'zod'

export const ERROR_CODES = [
  'invalid_request',
  'unauthorized',
  'not_found',
  'payload_too_large',
  'rate_limited',
  'quota_exceeded',
  'backend_unavailable',
  'backend_timeout',
  'canceled',
  'internal',
] as const
export type ErrorCode = (typeof ERROR_CODES)[number]

export const FieldError = z.object({ path: z.string(), message: z.string() }).meta({ id: 'FieldError' })
export type FieldError = z.infer<typeof FieldError>

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(ERROR_CODES),
    request_id: z.string(),
    errors: z.array(FieldError).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 application/problem+json' })
export type Problem = z.infer<typeof Problem>

export const PROBLEM_TITLES: Record<ErrorCode, string> = {
  invalid_request: 'Invalid request',
  unauthorized: 'Unauthorized',
  not_found: 'Not found',
  payload_too_large: 'Payload too large',
  rate_limited: 'Rate limited',
  quota_exceeded: 'Daily quota exceeded',
  backend_unavailable: 'Backend unavailable',
  backend_timeout: 'Backend timeout',
  canceled: 'Canceled',
  internal: 'Internal error',
}

export const problemType = (code: ErrorCode): string => `urn:cascade-edge:problem:${code}`
