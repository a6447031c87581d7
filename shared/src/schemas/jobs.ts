// Async jobs: POST /v1/jobs, GET /v1/jobs/{id}, GET /v1/jobs/{id}/events (SSE), POST /v1/jobs/{id}/cancel.
import { z } from 'zod'
import { MODEL_IDS } from '../models.ts'
import { ImageDatum } from './generation.ts'
import { Problem } from './problem.ts'

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const
export type JobStatusValue = (typeof JOB_STATUSES)[number]
export const JOB_ID_PATTERN = /^job_[0-9a-f]{32}$/

export const JobCreated = z
  .object({ id: z.string(), status: z.enum(JOB_STATUSES), status_url: z.string(), events_url: z.string() })
  .meta({ id: 'JobCreated' })
export type JobCreated = z.infer<typeof JobCreated>

export const JobStatus = z
  .object({
    id: z.string(),
    status: z.enum(JOB_STATUSES),
    created: z.number().int(),
    model: z.enum(MODEL_IDS),
    position: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'When queued: the estimated number of jobs ahead of this one' }),
    data: z.array(ImageDatum).optional().meta({ description: 'When succeeded: the same data as generate' }),
    error: Problem.optional().meta({ description: 'When failed' }),
  })
  .meta({ id: 'JobStatus' })
export type JobStatus = z.infer<typeof JobStatus>

export const STAGES = ['text', 'c', 'b', 'a', 'encode'] as const
export type Stage = (typeof STAGES)[number]

// SSE payloads of GET /v1/jobs/{id}/events, by event name.
export const QueuedEvent = z.object({ position: z.number().int().min(0) }).meta({ id: 'QueuedEvent' })
export const ProgressEvent = z
  .object({
    stage: z.enum(STAGES),
    step: z.number().int().min(0),
    steps: z.number().int().min(1),
    image: z.number().int().min(0).optional().meta({ description: 'index of the image (n > 1)' }),
  })
  .meta({ id: 'ProgressEvent' })
export const PreviewEvent = z
  .object({
    stage: z.literal('c'),
    step: z.number().int().min(1),
    steps: z.number().int().min(1),
    image: z.number().int().min(0).optional().meta({ description: 'index of the image (n > 1)' }),
    content_type: z.string().meta({ example: 'image/jpeg' }),
    b64: z.string().meta({ description: "The previewer's picture of Stage C's current x0, base64" }),
  })
  .meta({ id: 'PreviewEvent' })
export const SucceededEvent = z.object({ data: z.array(ImageDatum) }).meta({ id: 'SucceededEvent' })
export const CanceledEvent = z.object({}).meta({ id: 'CanceledEvent' })
export type QueuedEvent = z.infer<typeof QueuedEvent>
export type ProgressEvent = z.infer<typeof ProgressEvent>
export type PreviewEvent = z.infer<typeof PreviewEvent>

export type JobEvent =
  | { event: 'queued'; data: QueuedEvent }
  | { event: 'progress'; data: ProgressEvent }
  | { event: 'preview'; data: PreviewEvent }
  | { event: 'succeeded'; data: z.infer<typeof SucceededEvent> }
  | { event: 'failed'; data: Problem }
  | { event: 'canceled'; data: Record<string, never> }
