// Service configuration from the environment.
//   PORT           listen port (default 8788)
//   HOST           listen address (default 0.0.0.0)
//   BACKEND_SECRET the HMAC secret shared with the edge (required)
//   MODEL_DIRS     comma-separated model directories (required); each serves the model id its manifest maps to
//   QUEUE_DEPTH    jobs that may wait per model before new ones get 503 + Retry-After (default 16)
//   MAX_BATCH      jobs of the same shape and settings run as one batch (default 4)
//   ORT_CUDA       "0" keeps onnxruntime on the CPU; otherwise CUDA is tried first (default)

export interface ServiceConfig {
  port: number
  host: string
  secret: string
  modelDirs: string[]
  queueDepth: number
  maxBatch: number
  preferCuda: boolean
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
  const modelDirs = (env.MODEL_DIRS ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
  if (!modelDirs.length) throw new Error('MODEL_DIRS is required (comma-separated model directories)')
  return {
    port: int(env, 'PORT', 8788, 0),
    host: env.HOST || '0.0.0.0',
    secret,
    modelDirs,
    queueDepth: int(env, 'QUEUE_DEPTH', 16, 0),
    maxBatch: int(env, 'MAX_BATCH', 4, 1),
    preferCuda: env.ORT_CUDA !== '0',
  }
}
