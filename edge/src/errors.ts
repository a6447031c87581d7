// Errors: thrown anywhere as shared's ApiError (an HTTPException), rendered once as RFC 9457 problem+json in
// app.onError.
import type { Hook } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { z } from 'zod'
import {
  ApiError,
  type ErrorCode,
  type FieldError,
  PROBLEM_STATUS,
  PROMPT_REQUIRED,
  problemBody,
  problemResponse,
  promptMissing,
} from '../../shared/src/index.ts'

/** Re-exported so routes and middleware import errors from one place. */
export { ApiError }

import type { AppEnv } from './env.ts'
import { setRateLimitHeaders } from './middleware/rate-limit.ts'

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

/**
 * The generation requests' hook: as validationHook, and a missing prompt is named beside the other bad fields even
 * when zod skipped the rule (it skips object checks once a field failed its type). Async (it reads the body), which
 * the validator awaits; typed for whichever route takes it.
 */
export function generationHook<T, P extends string, R>(): Hook<T, AppEnv, P, R> {
  const hook: Hook<T, AppEnv, P, Promise<void>> = async (result, c) => {
    if (result.success) return
    const errors = fieldErrors(result.error as z.ZodError)
    if (!errors.some((e) => e.path === 'prompt') && promptMissing(await c.req.json().catch(() => undefined)))
      errors.push({ path: 'prompt', message: PROMPT_REQUIRED })
    throw new ApiError('invalid_request', `${errors.length} invalid field(s)`, { errors })
  }
  return hook as unknown as Hook<T, AppEnv, P, R>
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
    // Hono's own (malformed JSON from the validator, 415 for a body that is not JSON): map by status. Any other
    // client error is the request's fault, so it is invalid_request, never a 500.
    const code: ErrorCode =
      err.status === 401
        ? 'unauthorized'
        : err.status === 404
          ? 'not_found'
          : err.status === 413
            ? 'payload_too_large'
            : err.status >= 400 && err.status < 500
              ? 'invalid_request'
              : 'internal'
    const detail =
      err.status === 415 ? 'the request body must be JSON (Content-Type: application/json)' : err.message
    const errors = code === 'invalid_request' ? [{ path: '', message: detail }] : undefined
    return problemResponse(problemBody(code, detail, requestId, PROBLEM_STATUS[code], errors))
  }
  console.error(`[${requestId}] unhandled`, err)
  return problemResponse(problemBody('internal', 'internal error', requestId))
}
