// Service configuration from the environment.
//   PORT           listen port (default 8788)
//   HOST           listen address (default 127.0.0.1: loopback only; set 0.0.0.0 or an interface address to serve an edge)
//   BACKEND_SECRET the HMAC secret shared with the edge (required)
//   MODEL_DIR      the model directory; MODEL_DIRS: several, comma-separated (one of them is required); each
//                  serves the model id its manifest maps to
//   MAX_QUEUE      jobs that may wait per model before new ones get 503 + Retry-After (default 16; QUEUE_DEPTH
//                  is the older name)
//   MAX_BATCH      jobs of the same shape and settings run as one batch (default 4)
//   BATCH_WINDOW_MS how long a job may wait for batch-mates when the model is idle (default 15)
//   JOB_TIMEOUT_MS a job not finished this long after it arrived fails with 504 backend_timeout (default 300000)
//   PREVIEW_INTERVAL_MS least time between two live previews of a streaming job (default 250; 0: every step)
//   VERIFY_SHA256  "1": hash every model file against manifest.json at startup (sizes are always checked)
//   ORT_PROVIDER   auto (default: CUDA if its libraries load, else WebGPU if an adapter exists, else the CPU),
//                  cuda, webgpu or cpu; a provider that does not start falls back to the CPU with a warning
//   ORT_THREADS    onnxruntime's intra-op threads per model call (default 0: onnxruntime's choice, one per physical
//                  core). On a small CPU, 1 runs tiny graphs faster and large ones slower (bench/results.md)

import { type ProviderChoice, parseProviderChoice } from '../runtime/providers.ts'

export interface ServiceConfig {
  port: number
  host: string
  secret: string
  modelDirs: string[]
  queueDepth: number
  maxBatch: number
  batchWindowMs: number
  jobTimeoutMs: number
  /** Default 250 ms. */
  previewIntervalMs?: number
  provider: ProviderChoice
  verifySha256: boolean
  /** onnxruntime intra-op threads; 0 or absent: onnxruntime's default. */
  intraOpThreads?: number
}

function int(env: Record<string, string | undefined>, name: string, fallback: number, min: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const v = Number(raw)
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`)
  return v
}

export function readConfig(env: Record<string, string | undefined> = process.env): ServiceConfig {
  const secret = env.BACKEND_SECRET ?? ''
  if (!secret) throw new Error('BACKEND_SECRET is required (the HMAC secret shared with the edge)')
  const modelDirs = (env.MODEL_DIRS || env.MODEL_DIR || '')
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
  if (!modelDirs.length)
    throw new Error('MODEL_DIR (or MODEL_DIRS, comma-separated) is required: the model directory to serve')
  return {
    port: int(env, 'PORT', 8788, 0),
    host: env.HOST || '127.0.0.1',
    secret,
    modelDirs,
    queueDepth: int(env, env.MAX_QUEUE ? 'MAX_QUEUE' : 'QUEUE_DEPTH', 16, 0),
    maxBatch: int(env, 'MAX_BATCH', 4, 1),
    batchWindowMs: int(env, 'BATCH_WINDOW_MS', 15, 0),
    jobTimeoutMs: int(env, 'JOB_TIMEOUT_MS', 300_000, 1),
    previewIntervalMs: int(env, 'PREVIEW_INTERVAL_MS', 250, 0),
    provider: parseProviderChoice(env.ORT_PROVIDER),
    verifySha256: env.VERIFY_SHA256 === '1',
    intraOpThreads: int(env, 'ORT_THREADS', 0, 0),
  }
}
