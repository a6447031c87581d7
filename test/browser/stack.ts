// globalSetup of the browser suite: starts the stack exactly as `npm start` does (`node scripts/start.mjs`), from
// a clean state (an empty demo model dir, so make-tiny runs; an empty wrangler state dir), on this suite's ports,
// and waits for the URL and API key it prints. Its output goes to artifacts/stack.log. Every test file shares it;
// start.test.ts (sorted last by the config) ends it with SIGINT, and teardown stops whatever is left.
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'

export interface Stack {
  /** The edge, e.g. http://127.0.0.1:18950 (no trailing slash). */
  url: string
  backendUrl: string
  /** The local API key `npm start` printed (its hash is in the local API_KEYS KV). */
  apiKey: string
  /** pid of `node scripts/start.mjs` */
  pid: number
  edgePort: number
  backendPort: number
  /** Everything start.mjs printed up to "is up". */
  startupLog: string
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: Stack
  }
}

export const EDGE_PORT = 18950
export const BACKEND_PORT = 18951
const INSPECTOR_PORT = 18952
const STARTUP_LIMIT_MS = 240_000

const root = join(import.meta.dirname, '..', '..')
export const ARTIFACTS = join(root, 'test', 'browser', 'artifacts')

function waitForStartup(child: ChildProcess): Promise<{ url: string; apiKey: string; log: string }> {
  return new Promise((resolve, reject) => {
    let log = ''
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${log}`)), STARTUP_LIMIT_MS)
    const onData = (chunk: Buffer) => {
      log += chunk.toString('utf8')
      const url = /playground\s+(http:\/\/\S+?)\/?\s/.exec(log)?.[1]
      const apiKey = /API key\s+(\S+)/.exec(log)?.[1]
      if (url && apiKey && /Ctrl-C stops everything/.test(log)) {
        clearTimeout(timer)
        resolve({ url, apiKey, log })
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`npm start exited (${signal ?? code}) before it was up:\n${log}`))
    })
  })
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const scratch = mkdtempSync(join(tmpdir(), 'cascade-browser-'))
  mkdirSync(ARTIFACTS, { recursive: true })
  const child = spawn(process.execPath, [join(root, 'scripts', 'start.mjs')], {
    cwd: root,
    env: {
      ...process.env,
      EDGE_PORT: String(EDGE_PORT),
      BACKEND_PORT: String(BACKEND_PORT),
      EDGE_INSPECTOR_PORT: String(INSPECTOR_PORT),
      DEMO_MODEL_DIR: join(scratch, 'model'),
      STATE_DIR: join(scratch, 'state'),
      MODEL_DIR: '',
      MODEL_DIRS: '',
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const file = createWriteStream(join(ARTIFACTS, 'stack.log'))
  child.stdout.pipe(file, { end: false })
  child.stderr.pipe(file, { end: false })
  const exited = new Promise<void>((done) => child.once('exit', () => done()))

  const teardown = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT')
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      await exited
      clearTimeout(killer)
    }
    file.end()
    rmSync(scratch, { recursive: true, force: true })
  }
  try {
    const up = await waitForStartup(child)
    project.provide('stack', {
      url: up.url,
      backendUrl: `http://127.0.0.1:${BACKEND_PORT}`,
      apiKey: up.apiKey,
      pid: child.pid ?? 0,
      edgePort: EDGE_PORT,
      backendPort: BACKEND_PORT,
      startupLog: up.log,
    })
  } catch (e) {
    await teardown()
    throw e
  }
  return teardown
}
