// Records chosen calls of a session as the pipeline makes them (`cascade compare`: the same inputs are then run
// through another model's graph). Float feeds and outputs are kept as float32 copies, so graphs of another
// precision can be fed the same values; other tensors (token ids) are copied as they are.
import { type FloatData, floatData, ort } from '../runtime/session.ts'

export interface RecordedCall {
  /** The call's position among the session's calls, from 0. */
  index: number
  feeds: Record<string, FloatData | ort.Tensor>
  outputs: Record<string, FloatData>
}

export interface CallRecorder {
  readonly calls: RecordedCall[]
  /** Puts the session's own run back. */
  stop(): void
}

/** Records the calls of `session.run` whose index `pick` accepts, until stop(). */
export function recordCalls(session: ort.InferenceSession, pick: (index: number) => boolean): CallRecorder {
  const run = session.run
  const calls: RecordedCall[] = []
  let index = 0
  const recording = async (...args: Parameters<typeof run>) => {
    const i = index++
    const out = await run.apply(session, args)
    if (pick(i))
      calls.push({
        index: i,
        feeds: copyFeeds(args[0] as Record<string, ort.Tensor>),
        outputs: copyOutputs(out),
      })
    return out
  }
  session.run = recording as typeof run
  return {
    calls,
    stop: () => {
      session.run = run
    },
  }
}

function copyFeeds(feeds: Record<string, ort.Tensor>): Record<string, FloatData | ort.Tensor> {
  return Object.fromEntries(
    Object.entries(feeds).map(([name, t]) => {
      const f = floatData(t)
      const copy = f
        ? { data: Float32Array.from(f.data), dims: f.dims }
        : new ort.Tensor(t.type, (t.data as ArrayLike<unknown> & { slice(): typeof t.data }).slice(), t.dims)
      return [name, copy]
    }),
  )
}

function copyOutputs(out: Record<string, ort.Tensor>): Record<string, FloatData> {
  const result: Record<string, FloatData> = {}
  for (const [name, t] of Object.entries(out)) {
    const f = floatData(t)
    if (f) result[name] = { data: Float32Array.from(f.data), dims: f.dims }
  }
  return result
}
