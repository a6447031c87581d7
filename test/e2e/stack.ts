// Starts the whole stack for the end-to-end suite: a tiny wuerstchen-v2 model (make-tiny, seed 3), the real
// backend service on E2E_BACKEND and `wrangler dev` on E2E_EDGE, both on loopback, torn down after the run.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const E2E_EDGE = 'http://127.0.0.1:18877'
export const E2E_BACKEND = 'http://127.0.0.1:18878'
export const E2E_SECRET = 'e2e-backend-secret'

const root = join(import.meta.dirname, '..', '..')
const bin = (name: string) => join(root, 'node_modules', '.bin', name)

async function until(url: string, what: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`)
    try {
      if ((await fetch(url)).ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`${what} did not become ready at ${url}`)
}

export default async function setup(): Promise<() => void> {
  const modelDir = mkdtempSync(join(tmpdir(), 'e2e-model-'))
  const made = spawnSync(
    process.execPath,
    [
      join(root, 'gpu-backend/bin/cascade.mjs'),
      'make-tiny',
      '--family',
      'wuerstchen-v2',
      '--seed',
      '3',
      '--out',
      modelDir,
    ],
    {
      encoding: 'utf8',
    },
  )
  if (made.status !== 0) throw new Error(`make-tiny failed: ${made.stderr}`)
  const version = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')).weights_version as string
  const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' }
  const backend = spawn(bin('tsx'), [join(root, 'gpu-backend/src/service/main.ts')], {
    env: {
      ...env,
      PORT: new URL(E2E_BACKEND).port,
      BACKEND_SECRET: E2E_SECRET,
      MODEL_DIRS: modelDir,
      QUEUE_DEPTH: '8',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const edge = spawn(
    bin('wrangler'),
    [
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      new URL(E2E_EDGE).port,
      '--log-level',
      'warn',
      '--persist-to',
      mkdtempSync(join(tmpdir(), 'e2e-state-')),
      '--var',
      `BACKEND_URLS:${E2E_BACKEND}`,
      '--var',
      `BACKEND_SECRET:${E2E_SECRET}`,
      '--var',
      `MODEL_VERSIONS:${JSON.stringify({ 'wuerstchen-v2': version })}`,
    ],
    { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] },
  )
  const stop = () => {
    for (const c of [edge, backend]) if (c.exitCode === null) c.kill('SIGTERM')
  }
  try {
    await until(`${E2E_BACKEND}/readyz`, 'backend', backend)
    await until(`${E2E_EDGE}/healthz`, 'wrangler dev', edge)
  } catch (e) {
    stop()
    throw e
  }
  return stop
}
