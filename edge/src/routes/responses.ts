// OpenAPI response entries shared by the routes.
import { Problem } from '../../../shared/src/index.ts'

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: Problem } },
})

export const errorResponses = {
  400: problem('invalid_request: `errors` names each bad field'),
  401: problem('unauthorized: unknown API key'),
  429: problem('rate_limited or quota_exceeded, with Retry-After'),
  500: problem('internal'),
} as const

export const generationErrors = {
  ...errorResponses,
  413: problem('payload_too_large'),
  503: problem('backend_unavailable, with Retry-After'),
  504: problem('backend_timeout'),
} as const

export const notFound = { 404: problem('not_found') } as const
export const conflict = { 409: problem('canceled') } as const
