// Time per operator type of one session run, from onnxruntime's own profiler (SessionOptions.enableProfiling):
// which kernels a graph's time goes to, e.g. MatMul against DynamicQuantizeMatMul and the passes around it.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type FloatData, ort, typedFeeds } from '../../gpu-backend/src/runtime/session.ts'

interface TraceEvent {
  cat: string
  name: string
  ts: number
  dur: number
  args?: { op_name?: string }
}

/** Milliseconds per operator type of the second of two runs (the first allocates), and the run's own time. */
export async function profileOps(
  model: string,
  feeds: Record<string, FloatData | ort.Tensor>,
  threads: number,
): Promise<{ total: number; ops: Record<string, number> }> {
  const dir = mkdtempSync(join(tmpdir(), 'ort-profile-'))
  try {
    const session = await ort.InferenceSession.create(model, {
      graphOptimizationLevel: 'all',
      enableMemPattern: false,
      intraOpNumThreads: threads,
      enableProfiling: true,
      profileFilePrefix: join(dir, 'profile'),
      extra: { session: { force_spinning_stop: '1' } },
    })
    const typed = typedFeeds(session, feeds)
    await session.run(typed)
    await session.run(typed)
    session.endProfiling()
    await session.release()
    const [file] = readdirSync(dir)
    if (!file) throw new Error(`${model}: onnxruntime wrote no profile`)
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as TraceEvent[]
    const runs = events.filter((e) => e.name === 'model_run')
    const last = runs[runs.length - 1]
    if (!last) throw new Error(`${model}: the profile has no model_run`)
    const ops: Record<string, number> = {}
    for (const e of events)
      if (
        e.cat === 'Node' &&
        e.name.endsWith('_kernel_time') &&
        e.ts >= last.ts &&
        e.ts <= last.ts + last.dur
      ) {
        const op = e.args?.op_name ?? 'unknown'
        ops[op] = (ops[op] ?? 0) + e.dur / 1000
      }
    return { total: last.dur / 1000, ops }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** "MatMul 812 → 20, DynamicQuantizeMatMul — → 310, …" (ms): the op types that take the most time on either side. */
export function compareOps(a: Record<string, number>, b: Record<string, number>, top = 8): string {
  const ops = [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .map((op) => ({ op, a: a[op] ?? 0, b: b[op] ?? 0 }))
    .sort((x, y) => Math.max(y.a, y.b) - Math.max(x.a, x.b))
  const fmt = (v: number) => (!v ? '—' : v >= 100 ? v.toFixed(0) : v.toPrecision(2))
  return ops
    .slice(0, top)
    .map((o) => `${o.op} ${fmt(o.a)} → ${fmt(o.b)}`)
    .join(', ')
}
