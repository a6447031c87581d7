#!/usr/bin/env node
// `npm start`: the whole stack on loopback — a demo model (tiny Würstchen v2, random weights, compiled
// by `cascade make-tiny` on first start), the GPU backend on :8788 and the edge Worker (wrangler dev) on :8787.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const EDGE_PORT = Number(process.env.EDGE_PORT ?? 8787)
const BACKEND_PORT = Number(process.env.BACKEND_PORT ?? 8788)
const SECRET = process.env.BACKEND_SECRET ?? 'dev-only-insecure-backend-secret'
const modelDir = process.env.DEMO_MODEL_DIR ?? join('models', 'demo-wuerstchen-v2')
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' }

if (!existsSync(join(modelDir, 'manifest.json'))) {
  console.log(
    `building the demo model in ${modelDir} (tiny, random weights: images are noise-like, the pipeline is real)`,
  )
  const r = spawnSync(
    process.execPath,
    ['gpu-backend/bin/cascade.mjs', 'make-tiny', '--family', 'wuerstchen-v2', '--out', modelDir],
    {
      stdio: 'inherit',
    },
  )
  if (r.status !== 0) process.exit(r.status ?? 1)
}
const manifest = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8'))

const children = []
function start(name, cmd, args, extraEnv) {
  const child = spawn(cmd, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'inherit', 'inherit'] })
  child.on('exit', (code) => {
    console.error(`${name} exited (${code}); stopping`)
    stop(code ?? 1)
  })
  children.push(child)
}
function stop(code) {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM')
  process.exit(code)
}
process.on('SIGINT', () => stop(0))
process.on('SIGTERM', () => stop(0))

start('backend', 'tsx', ['gpu-backend/src/service/main.ts'], {
  PORT: String(BACKEND_PORT),
  BACKEND_SECRET: SECRET,
  MODEL_DIRS: modelDir,
})
start('edge', 'wrangler', [
  'dev',
  '--ip',
  '127.0.0.1',
  '--port',
  String(EDGE_PORT),
  '--log-level',
  'warn',
  '--var',
  `BACKEND_URLS:http://127.0.0.1:${BACKEND_PORT}`,
  '--var',
  `BACKEND_SECRET:${SECRET}`,
  '--var',
  `MODEL_VERSIONS:${JSON.stringify({ 'wuerstchen-v2': manifest.weights_version })}`,
])

async function ready(url) {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(url)).ok) return true
    } catch {}
    await new Promise((r) => setTimeout(r, 500))
  }
  return false
}
if (
  (await ready(`http://127.0.0.1:${BACKEND_PORT}/readyz`)) &&
  (await ready(`http://127.0.0.1:${EDGE_PORT}/healthz`))
) {
  console.log(
    `\ncascade-edge is up:\n  playground  http://127.0.0.1:${EDGE_PORT}/\n  API docs    http://127.0.0.1:${EDGE_PORT}/docs\n  backend     http://127.0.0.1:${BACKEND_PORT}/metrics\nCtrl-C stops everything.`,
  )
} else {
  console.error('the stack did not become ready in 5 minutes')
  stop(1)
}
