// Messages between the service thread and a pipeline worker (one worker per model directory).

import type { ModelId } from '../../../shared/src/index.ts'
import type { Manifest } from '../compiler/manifest.ts'
import type { GenerateRequest, StepEvent, Timings } from '../pipeline/generate.ts'
import type { Provider, ProviderChoice } from '../runtime/providers.ts'
import type { PreviewMessage } from './model-worker.ts'

export interface WorkerInit {
  dir: string
  provider: ProviderChoice
  /** Hash every model file against the manifest before loading (sizes are always checked). */
  verifySha256: boolean
  intraOpThreads?: number
}

export type ToWorker =
  /** previewIntervalMs: make previews, at most one per interval (absent: none). */
  | { type: 'run'; run: number; request: GenerateRequest; previewIntervalMs?: number }
  | { type: 'cancel'; run: number; reason: string }

export type FromWorker =
  | { type: 'loaded'; id: ModelId; manifest: Manifest; provider: Provider }
  | { type: 'load-failed'; message: string }
  | { type: 'step'; run: number; event: StepEvent }
  | { type: 'preview'; run: number; preview: PreviewMessage }
  | { type: 'done'; run: number; encoded: Uint8Array[]; timings: Timings }
  | { type: 'failed'; run: number; aborted: boolean; message: string }
