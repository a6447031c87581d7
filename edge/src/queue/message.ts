// The body of a jobs-queue message: a reference to the job (its record holds the prompts and settings), plus what
// the consumer needs to pick a backend without asking the record first. A few hundred bytes, far below the
// queue's 128 KB message limit whatever the prompts.
import { z } from 'zod'
import { JOB_ID_PATTERN, KEY_PATTERN, MODEL_IDS } from '../../../shared/src/index.ts'

export const JobMessage = z.object({
  job: z.string().regex(JOB_ID_PATTERN),
  model: z.enum(MODEL_IDS),
  model_version: z.string().min(1),
  /** Images the job still needs: backend slots it takes. */
  images: z.number().int().min(1),
  /** The first image's request key: spreads equal choices over the pool the way direct dispatch does. */
  key: z.string().regex(KEY_PATTERN),
})
export type JobMessage = z.infer<typeof JobMessage>
