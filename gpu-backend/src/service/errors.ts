// Errors of the backend's HTTP API: thrown as ServiceError, rendered once as RFC 9457 problem+json
// (the shape of shared's Problem) in app.onError.
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import {
  type ErrorCode,
  type FieldError,
  PROBLEM_TITLES,
  type Problem,
  problemType,
} from '../../../shared/src/index.ts'

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

export class ServiceError extends HTTPException {
  readonly code: ErrorCode
  readonly errors: FieldError[] | undefined
  readonly headers: Record<string, string>

  constructor(
    code: ErrorCode,
    detail: string,
    opts: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(STATUS_OF[code], { message: detail })
    this.code = code
    this.errors = opts.errors
    this.headers = opts.headers ?? {}
  }
}

export function problemResponse(
  code: ErrorCode,
  detail: string,
  requestId: string,
  opts: { errors?: FieldError[]; headers?: Record<string, string> } = {},
): Response {
  const problem: Problem = {
    type: problemType(code),
    title: PROBLEM_TITLES[code],
    status: STATUS_OF[code],
    detail,
    code,
    request_id: requestId,
    ...(opts.errors ? { errors: opts.errors } : {}),
  }
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...opts.headers },
  })
}
