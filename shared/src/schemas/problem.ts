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

/** The HTTP status of each code (api.md "Errors"). */
export const PROBLEM_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
  payload_too_large: 413,
  rate_limited: 429,
  quota_exceeded: 429,
  backend_unavailable: 503,
  backend_timeout: 504,
  canceled: 409,
  internal: 500,
}

export function problemBody(
  code: ErrorCode,
  detail: string,
  requestId: string,
  status: number = PROBLEM_STATUS[code],
  errors?: FieldError[],
): Problem {
  return {
    type: problemType(code),
    title: PROBLEM_TITLES[code],
    status,
    detail,
    code,
    request_id: requestId,
    ...(errors ? { errors } : {}),
  }
}

/** The problem as a web-standard Response (edge and backend render errors the same way). */
export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...headers },
  })
}
