// The one error type both HTTP apps throw (Hono's HTTPException with a stable code); each app's onError
// renders it as problem+json with problemBody / problemResponse.
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { type ErrorCode, type FieldError, PROBLEM_STATUS } from './schemas/problem.ts'

export class ApiError extends HTTPException {
  readonly code: ErrorCode
  readonly errors: FieldError[] | undefined
  readonly headers: Record<string, string>

  constructor(
    code: ErrorCode,
    detail: string,
    opts: { errors?: FieldError[]; headers?: Record<string, string>; status?: number } = {},
  ) {
    super((opts.status ?? PROBLEM_STATUS[code]) as ContentfulStatusCode, { message: detail })
    this.code = code
    this.errors = opts.errors
    this.headers = opts.headers ?? {}
  }
}
