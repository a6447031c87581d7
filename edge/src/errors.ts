// Errors: thrown anywhere as ApiError (an HTTPException), rendered once as RFC 9457 problem+json in app.onError.
import type { Hook } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { z } from 'zod'
import {
  type ErrorCode,
  type FieldError,
  PROBLEM_TITLES,
  type Problem,
  problemType,
} from '../../shared/src/index.ts'
import type { AppEnv } from './env.ts'
import { setRateLimitHeaders } from './middleware/rate-limit.ts'

export const STATUS_OF: Record<ErrorCode, ContentfulStatusCode> = {
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

export class ApiError extends HTTPException {
  readonly code: ErrorCode
  readonly errors: FieldError[] | undefined
  readonly headers: Record<string, string>

  constructor(
    code: ErrorCode,
    detail: string,
    opts: { errors?: FieldError[]; headers?: Record<string, string>; status?: number } = {},
  ) {
    super((opts.status as ContentfulStatusCode | undefined) ?? STATUS_OF[code], { message: detail })
    this.code = code
    this.errors = opts.errors
    this.headers = opts.headers ?? {}
  }
}

export function problemBody(
  code: ErrorCode,
  detail: string,
  requestId: string,
  status: number = STATUS_OF[code],
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

export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...headers },
  })
}

/** zod issues -> one `{path, message}` per bad field; unknown keys are expanded to one entry each. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  const out: FieldError[] = []
  for (const issue of error.issues) {
    const base = issue.path.map(String)
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) out.push({ path: [...base, k].join('.'), message: 'unknown field' })
    } else {
      out.push({ path: base.join('.'), message: issue.message })
    }
  }
  return out
}

/** The one defaultHook: every schema failure becomes a 400 invalid_request naming each bad field. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (!result.success) {
    const errors = fieldErrors(result.error as z.ZodError)
    throw new ApiError('invalid_request', `${errors.length} invalid field(s)`, { errors })
  }
}

export function onError(err: Error, c: Context<AppEnv>): Response {
  const res = renderError(err, c)
  setRateLimitHeaders(c, res)
  return res
}

function renderError(err: Error, c: Context<AppEnv>): Response {
  const requestId = c.get('requestId') ?? ''
  if (err instanceof ApiError) {
    return problemResponse(problemBody(err.code, err.message, requestId, err.status, err.errors), err.headers)
  }
  if (err instanceof HTTPException) {
    // Hono's own (e.g. malformed JSON from the validator): map by status.
    const code: ErrorCode =
      err.status === 400
        ? 'invalid_request'
        : err.status === 401
          ? 'unauthorized'
          : err.status === 404
            ? 'not_found'
            : err.status === 413
              ? 'payload_too_large'
              : 'internal'
    const errors = code === 'invalid_request' ? [{ path: '', message: err.message }] : undefined
    return problemResponse(problemBody(code, err.message, requestId, STATUS_OF[code], errors))
  }
  console.error(`[${requestId}] unhandled`, err)
  return problemResponse(problemBody('internal', 'internal error', requestId))
}
