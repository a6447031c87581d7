// Real processes for the integration suites (end-to-end, chaos): a tiny model compiled by `cascade make-tiny`,
// the backend service and `wrangler dev`, all on loopback. Each child runs in its own process group, so stop()
// and kill() reach the whole tree (wrangler's workerd included). stopAll() ends them all and removes the
// temporary directories; a test process that exits without it still kills its children on the way out.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const ROOT = join(import.meta.dirname, '..', '..')
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name)

/** Keeps wrangler off the network (no telemetry, no cf fetch). */
const QUIET_ENV = { WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' }

const temps: string[] = []

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  temps.push(dir)
  return dir
}

export interface TinyModel {
  dir: string
  version: string
}

/** A tiny model directory (real graphs, random weights): seconds to build, milliseconds per step. */
export function makeTinyModel(seed = 3, family = 'wuerstchen-v2'): TinyModel {
  const dir = tempDir('tiny-model-')
  const made = spawnSync(
    process.execPath,
    [
      join(ROOT, 'gpu-backend/bin/cascade.mjs'),
      'make-tiny',
      '--family',
      family,
      '--seed',
      String(seed),
      '--out',
      dir,
    ],
    { encoding: 'utf8' },
  )
  if (made.status !== 0) throw new Error(`make-tiny failed: ${made.stderr}`)
  const version = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).weights_version as string
  return { dir, version }
}

export interface Proc {
  readonly name: string
  readonly pid: number
  /** Settles with the exit code (or the signal's name) once the process has ended. */
  readonly exited: Promise<number | string>
  alive(): boolean
  /** What the process wrote to stdout and stderr so far (the last 256 KiB). */
  output(): string
  /** Signals the whole process group and waits for the process to end. */
  kill(signal: NodeJS.Signals): Promise<void>
  /** SIGTERM, then SIGKILL if it has not ended after `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

const running = new Set<Proc>()
process.once('exit', () => {
  for (const p of running) signalGroup(p.pid, 'SIGKILL')
  for (const dir of temps) rmSync(dir, { recursive: true, force: true })
})

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {}
}

const OUTPUT_KEEP = 256 * 1024

/** Spawns `cmd` in its own process group; `echo` also copies its output to this process's stderr. */
export function startProcess(
  name: string,
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; echo?: boolean } = {},
): Proc {
  const child: ChildProcess = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...QUIET_ENV, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  if (child.pid === undefined) throw new Error(`${name}: spawn failed`)
  const pid = child.pid
  let out = ''
  const collect = (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-OUTPUT_KEEP)
    if (opts.echo) process.stderr.write(chunk)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(proc)
      resolve(code ?? signal ?? 'unknown')
    }),
  )
  const proc: Proc = {
    name,
    pid,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    output: () => out,
    async kill(signal) {
      if (!proc.alive()) return
      signalGroup(pid, signal)
      await exited
    },
    async stop(graceMs = 10_000) {
      if (!proc.alive()) return
      signalGroup(pid, 'SIGTERM')
      const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
      // Whatever the leader left behind in its group (wrangler's workerd) goes too.
      signalGroup(pid, 'SIGKILL')
    },
  }
  running.add(proc)
  return proc
}

export interface BackendOptions {
  port: number
  secret: string
  modelDirs: string[]
  /** More environment (QUEUE_DEPTH, HOST, ...); see gpu-backend/src/service/config.ts. */
  env?: Record<string, string>
  echo?: boolean
}

/**
 * The backend service, run by node with tsx's loader (not the tsx CLI, which would put a second process between
 * us and the server): the pid is the server's, for signals and /proc.
 */
export function startBackend(o: BackendOptions): Proc {
  return startProcess(
    `backend :${o.port}`,
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'gpu-backend/src/service/main.ts')],
    {
      env: {
        HOST: '127.0.0.1',
        PORT: String(o.port),
        BACKEND_SECRET: o.secret,
        MODEL_DIRS: o.modelDirs.join(','),
        ...o.env,
      },
      ...(o.echo ? { echo: true } : {}),
    },
  )
}

export interface EdgeOptions {
  port: number
  /** wrangler.toml [vars] overrides (BACKEND_URLS, BACKEND_SECRET, MODEL_VERSIONS, BACKEND_TIMEOUT_MS, ...). */
  vars: Record<string, string>
  /** Another wrangler config (wrangler-config.ts); default: the root wrangler.toml. */
  config?: string
  echo?: boolean
}

/** The edge Worker under `wrangler dev` on loopback, with fresh local state (R2, Durable Objects, KV, Queues). */
export function startEdge(o: EdgeOptions): Proc {
  const vars = Object.entries(o.vars).flatMap(([k, v]) => ['--var', `${k}:${v}`])
  return startProcess(
    `wrangler dev :${o.port}`,
    bin('wrangler'),
    [
      'dev',
      ...(o.config ? ['-c', o.config] : []),
      '--ip',
      '127.0.0.1',
      '--port',
      String(o.port),
      '--log-level',
      'warn',
      '--persist-to',
      tempDir('edge-state-'),
      ...vars,
    ],
    o.echo ? { echo: true } : {},
  )
}

/** Stops every process started here (SIGTERM, then SIGKILL) and removes the temporary directories. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()))
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** Polls `url` until it answers 2xx (or `accept` says so); fails as soon as the process exits. */
export async function waitFor(
  url: string,
  proc: Proc,
  accept: (res: Response) => boolean = (res) => res.ok,
): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (!proc.alive()) throw new Error(`${proc.name} exited with ${await proc.exited}:\n${proc.output()}`)
    try {
      const res = await fetch(url)
      await res.body?.cancel()
      if (accept(res)) return
    } catch {}
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`${proc.name} did not become ready at ${url}:\n${proc.output()}`)
}
