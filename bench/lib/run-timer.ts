// Times every onnxruntime session.run in this process by wrapping InferenceSession.prototype.run (benchmarks only):
// the denominator of "wall / Σ session.run" and of the batching ceiling.
import { ort } from '../../gpu-backend/src/runtime/session.ts'

let inRun = 0
// InferenceSession is typed as a factory; at run time it is the class whose instances the pipeline uses.
const proto = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype
const run = proto.run
proto.run = async function (this: ort.InferenceSession, ...args: Parameters<typeof run>) {
  const t0 = performance.now()
  try {
    return await run.apply(this, args)
  } finally {
    inRun += performance.now() - t0
  }
} as typeof run

/** Runs `f`; its wall time and the time spent inside session.run meanwhile, in ms. */
export async function timeRuns<T>(f: () => Promise<T>): Promise<{ wall: number; run: number; value: T }> {
  const before = inRun
  const t0 = performance.now()
  const value = await f()
  return { wall: performance.now() - t0, run: inRun - before, value }
}
