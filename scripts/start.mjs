#!/usr/bin/env node
// `npm start`: the whole stack on loopback, no login and no network.
//   1. the models: MODEL_DIR (or MODEL_DIRS, comma-separated) when set; otherwise the demo models, Würstchen v2 (the
//      default model, text-to-image) and Stable Cascade (every image mode and live previews), in
//      DEMO_MODEL_DIR/<family> (default models/demo-<family>); DEMO_FAMILY=<family> serves that one alone (in
//      DEMO_MODEL_DIR itself when set). Each is built by
//      `cascade make-tiny` on first start (random weights: its images are noise by design, the pipeline is real)
//   2. the GPU backend on 127.0.0.1:BACKEND_PORT (default 8788), with a BACKEND_SECRET made for this run
//   3. a local API key for SDKs (kept in STATE_DIR/dev-api-key, its hash written to the local API_KEYS KV)
//   4. once the backend is ready: the edge Worker (`wrangler dev`) on 127.0.0.1:EDGE_PORT (default 8787), told
//      the backend's models and weights versions, which of them tile, and each model's modes and previews
//      (GET /readyz), which are random-weight demos, and the LoRA files merged into each (from the manifests)
// Logs of both children are prefixed ([backend], [edge]). Ctrl-C / SIGTERM stops both (each runs in its own
// process group, so their own children go too) and waits for them before exiting. The jobs queue and its
// dead-letter queue (wrangler.toml) are simulated by `wrangler dev`; GET /metrics on the edge (the pool's capacity
// and queue depth) answers the METRICS_TOKEN made for this run, which the banner prints.
// Other settings: STATE_DIR (wrangler's local state, default .wrangler/state), EDGE_LOG_LEVEL (default info),
// EDGE_INSPECTOR_PORT (wrangler's devtools port; default: wrangler picks one).
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'

const root = resolve(import.meta.dirname, '..')
const node = process.execPath
const WRANGLER = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js')
const CASCADE = join(root, 'gpu-backend', 'bin', 'cascade.mjs')
const GRACE_MS = 10_000

function fail(message) {
  console.error(`[start] ${message}`)
  process.exit(1)
}

function port(name, fallback) {
  const raw = process.env[name]
  const v = raw === undefined || raw === '' ? fallback : Number(raw)
  if (!Number.isInteger(v) || v < 1 || v > 65535) fail(`${name} must be a port number, got "${raw}"`)
  return v
}

if (Number(process.versions.node.split('.')[0]) < 22)
  fail(`Node ${process.versions.node}: use Node ≥ 22 (\`npm start\` runs the repo's own Node 22)`)
const EDGE_PORT = port('EDGE_PORT', 8787)
const BACKEND_PORT = port('BACKEND_PORT', 8788)
const INSPECTOR_PORT = process.env.EDGE_INSPECTOR_PORT ? port('EDGE_INSPECTOR_PORT', 0) : undefined
if (EDGE_PORT === BACKEND_PORT) fail('EDGE_PORT and BACKEND_PORT must differ')
const stateDir = resolve(process.env.STATE_DIR || join(root, '.wrangler', 'state'))
const edgeLogLevel = process.env.EDGE_LOG_LEVEL || 'info'
const configured = (process.env.MODEL_DIR || process.env.MODEL_DIRS || '')
  .split(',')
  .map((d) => d.trim())
  .filter(Boolean)
  .map((d) => resolve(d))
const DEMO_FAMILIES = ['wuerstchen-v2', 'stable-cascade']
const demoFamily = process.env.DEMO_FAMILY || ''
if (demoFamily && !DEMO_FAMILIES.includes(demoFamily))
  fail(`DEMO_FAMILY must be wuerstchen-v2 or stable-cascade, got "${demoFamily}"`)
const demoDirOf = (family) => {
  const base = process.env.DEMO_MODEL_DIR
  if (!base) return resolve(join(root, 'models', `demo-${family}`))
  return resolve(demoFamily ? base : join(base, family))
}
const demos = (demoFamily ? [demoFamily] : DEMO_FAMILIES).map((family) => ({
  family,
  dir: demoDirOf(family),
}))
const modelDirs = configured.length ? configured : demos.map((d) => d.dir)

// The children's environment: no telemetry, no update check, no Cloudflare network lookups, no .dev.vars.
const childEnv = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  CLOUDFLARE_INCLUDE_PROCESS_ENV: 'false',
  CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: 'true',
}
delete childEnv.BACKEND_SECRET

// ---- child processes: prefixed logs, one process group each, stopped together ----------------------------

const color = process.stdout.isTTY && !process.env.NO_COLOR
const COLORS = { backend: 36, edge: 35, setup: 33, start: 32 }
const tag = (name) => (color ? `\x1b[${COLORS[name] ?? 0}m[${name}]\x1b[0m` : `[${name}]`)
const say = (line) => console.log(`${tag('start')} ${line}`)

/** Writes each line of `stream` to `out`, prefixed `[name]` (unless the child already prefixed it so). */
function pipeLines(stream, out, name) {
  const own = `[${name}] `
  createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
    out.write(`${tag(name)} ${line.startsWith(own) ? line.slice(own.length) : line}\n`)
  })
}

const children = new Set()
/** Every child ever started: its process group may outlive it (wrangler's launcher runs wrangler under it). */
const groups = new Set()
let stopping = false
/** Holds the edge's env file (the backend secret) for this run; removed on exit. */
let secretsDir

/**
 * Starts a child in its own process group. A service (the default) ending is fatal; a task ending is fatal
 * only when it fails. `quiet` children show their output only if they fail.
 */
function start(name, args, env, { quiet = false, task = false } = {}) {
  const child = spawn(node, args, {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: process.platform !== 'win32',
  })
  const exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })))
  const entry = { name, child, exited }
  children.add(entry)
  groups.add(child)
  const captured = []
  if (quiet) for (const s of [child.stdout, child.stderr]) s.on('data', (d) => captured.push(d))
  else {
    pipeLines(child.stdout, process.stdout, name)
    pipeLines(child.stderr, process.stderr, name)
  }
  exited.then(({ code, signal }) => {
    children.delete(entry)
    if (stopping || (task && code === 0)) return
    if (quiet) process.stderr.write(Buffer.concat(captured))
    console.error(`${tag('start')} ${name} exited (${signal ?? code}); stopping`)
    void stop(code || 1)
  })
  return entry
}

function signalGroup(child, signal) {
  try {
    if (process.platform === 'win32') child.kill(signal)
    else process.kill(-child.pid, signal)
  } catch {} // ESRCH: the group is already gone
}

const groupAlive = (child) => {
  try {
    process.kill(-child.pid, 0)
    return true
  } catch {
    return false
  }
}

/** SIGTERM every child's group, wait for them (SIGKILL after GRACE_MS), clean up, exit. Never resolves. */
let stopped
function stop(code) {
  stopped ??= shutDown(code)
  return stopped
}

async function shutDown(code) {
  stopping = true
  const running = [...children]
  if (running.length) say(`stopping ${running.map((c) => c.name).join(' and ')}…`)
  for (const child of groups) signalGroup(child, 'SIGTERM')
  await Promise.all(
    running.map(async ({ child, exited }) => {
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), GRACE_MS)
      await exited
      clearTimeout(timer)
    }),
  )
  // Whatever is left in any group (workerd under wrangler, the children of a child that died) goes now.
  for (const child of groups) {
    for (let i = 0; i < 20 && process.platform !== 'win32' && groupAlive(child); i++)
      await new Promise((r) => setTimeout(r, 100))
    signalGroup(child, 'SIGKILL')
  }
  process.exit(code)
}
// However this process ends (a signal above, a crash), the secret's file goes with it.
process.on('exit', () => {
  if (secretsDir) rmSync(secretsDir, { recursive: true, force: true })
})
process.on('SIGINT', () => void stop(0))
process.on('SIGTERM', () => void stop(0))
process.on('SIGHUP', () => void stop(0))

// ---- helpers ------------------------------------------------------------------------------------------------

function portFree(p) {
  return new Promise((done) => {
    const srv = createServer()
      .once('error', () => done(false))
      .once('listening', () => srv.close(() => done(true)))
    srv.listen(p, '127.0.0.1')
  })
}

/** Polls `url` until it answers 2xx (returns the JSON body), or the child exits (returns undefined). */
async function ready(url, { exited }) {
  let gone = false
  exited.then(() => {
    gone = true
  })
  while (!gone && !stopping) {
    try {
      const res = await fetch(url)
      if (res.ok) return await res.json()
    } catch {}
    await new Promise((r) => setTimeout(r, 250))
  }
  return undefined
}

const readManifest = (dir) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))

/** The local API key: made once per state dir, its sha256 stored in the local API_KEYS KV (as in production). */
function devApiKey() {
  const file = join(stateDir, 'dev-api-key')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(stateDir, { recursive: true })
  const key = `sk-local-${randomBytes(24).toString('hex')}`
  writeFileSync(file, `${key}\n`, { mode: 0o600 })
  return key
}

// ---- 1. the model -------------------------------------------------------------------------------------------

for (const p of [EDGE_PORT, BACKEND_PORT])
  if (!(await portFree(p))) fail(`port ${p} is in use on 127.0.0.1 (set EDGE_PORT / BACKEND_PORT)`)
for (const d of configured) if (!existsSync(join(d, 'manifest.json'))) fail(`${d} has no manifest.json`)
for (const { family, dir } of configured.length ? [] : demos) {
  if (existsSync(join(dir, 'manifest.json'))) continue
  say(
    `building the ${family} demo model in ${dir} (tiny, random weights: images are noise, the pipeline is real)`,
  )
  const make = start('setup', [CASCADE, 'make-tiny', '--family', family, '--out', dir], childEnv, {
    task: true,
  })
  const { code } = await make.exited
  if (code !== 0) await stop(code ?? 1)
}
const manifests = modelDirs.map(readManifest)

// ---- 2. the backend, and the API key meanwhile -----------------------------------------------------------------

const secret = randomBytes(32).toString('hex')
const metricsToken = randomBytes(16).toString('hex')
secretsDir = mkdtempSync(join(tmpdir(), 'cascade-start-'))
const edgeEnvFile = join(secretsDir, 'edge.env')
writeFileSync(edgeEnvFile, `BACKEND_SECRET=${secret}\nMETRICS_TOKEN=${metricsToken}\n`, { mode: 0o600 })

const backend = start(
  'backend',
  ['--import', 'tsx', join(root, 'gpu-backend', 'src', 'service', 'main.ts')],
  {
    ...childEnv,
    HOST: '127.0.0.1',
    PORT: String(BACKEND_PORT),
    BACKEND_SECRET: secret,
    MODEL_DIRS: modelDirs.join(','),
    MODEL_DIR: '',
  },
)

const apiKey = devApiKey()
const keyHash = createHash('sha256').update(apiKey).digest('hex')
const seed = start(
  'setup',
  [
    WRANGLER,
    'kv',
    'key',
    'put',
    `key:${keyHash}`,
    JSON.stringify({ tier: 'pro', name: 'npm start (local)' }),
    '--binding',
    'API_KEYS',
    '--local',
    '--persist-to',
    stateDir,
  ],
  childEnv,
  { quiet: true, task: true },
)

const readyz = await ready(`http://127.0.0.1:${BACKEND_PORT}/readyz`, backend)
await seed.exited
if (!readyz || stopping) await stop(1)

// ---- 3. the edge ----------------------------------------------------------------------------------------------

const versions = Object.fromEntries(readyz.models.map((m) => [m.id, m.version]))
const randomWeights = new Set(
  manifests.filter((m) => m.random_weights === true).map((m) => m.weights_version),
)
const demoModels = readyz.models.filter((m) => randomWeights.has(m.version)).map((m) => m.id)
const lorasByVersion = new Map(
  manifests.map((m) => [
    m.weights_version,
    (m.loras ?? []).map(({ file, sha256, strength }) => ({ file, sha256, strength })),
  ]),
)
const tiling = readyz.models.filter((m) => m.tiling).map((m) => m.id)
const loras = Object.fromEntries(
  readyz.models.map((m) => [m.id, lorasByVersion.get(m.version) ?? []]).filter(([, l]) => l.length),
)
const capabilities = Object.fromEntries(
  readyz.models.map((m) => [m.id, { modes: m.modes ?? ['text'], previews: m.previews === true }]),
)
const edge = start(
  'edge',
  [
    WRANGLER,
    'dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(EDGE_PORT),
    ...(INSPECTOR_PORT ? ['--inspector-port', String(INSPECTOR_PORT)] : []),
    '--show-interactive-dev-session=false',
    '--log-level',
    edgeLogLevel,
    '--persist-to',
    stateDir,
    '--env-file',
    edgeEnvFile,
    '--var',
    `BACKEND_URLS:http://127.0.0.1:${BACKEND_PORT}`,
    '--var',
    `MODEL_VERSIONS:${JSON.stringify(versions)}`,
    '--var',
    `DEMO_MODELS:${demoModels.join(',')}`,
    '--var',
    `MODEL_LORAS:${JSON.stringify(loras)}`,
    '--var',
    `TILING_MODELS:${tiling.join(',')}`,
    `MODEL_CAPABILITIES:${JSON.stringify(capabilities)}`,
  ],
  childEnv,
)
if (!(await ready(`http://127.0.0.1:${EDGE_PORT}/healthz`, edge)) || stopping) await stop(1)

const url = `http://127.0.0.1:${EDGE_PORT}`
const lines = [
  '',
  'cascade-edge is up',
  `  playground       ${url}/`,
  `  API docs         ${url}/docs`,
  `  OpenAI base URL  ${url}/v1`,
  `  API key          ${apiKey}   (optional; without one you get the free tier)`,
  `  backend metrics  http://127.0.0.1:${BACKEND_PORT}/metrics`,
  `  jobs queue       cascade-jobs, simulated locally (dead letters: cascade-jobs-dlq)`,
  `  pool metrics     curl -H 'Authorization: Bearer ${metricsToken}' ${url}/metrics`,
  `  models           ${readyz.models.map((m) => `${m.id}${demoModels.includes(m.id) ? ' (demo: random weights)' : ''}`).join(', ')}`,
  'Ctrl-C stops everything.',
  '',
]
console.log(lines.join('\n'))
