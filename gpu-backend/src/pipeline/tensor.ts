// Host-side float32 tensors (batch first) and the few batch operations the pipeline needs.
import type { FloatData } from '../runtime/session.ts'

export type DiffusionStage = 'c' | 'b'

export type HostTensor = FloatData

export const numel = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1)

export function zeros(dims: readonly number[]): HostTensor {
  return { data: new Float32Array(numel(dims)), dims: [...dims] }
}

/** Concatenates along the batch axis (the trailing dims must agree). */
export function concatBatch(...ts: HostTensor[]): HostTensor {
  const [first, ...rest] = ts
  if (!first) throw new Error('concatBatch: nothing to concatenate')
  const tail = first.dims.slice(1).join(',')
  for (const t of rest)
    if (t.dims.slice(1).join(',') !== tail)
      throw new Error(`concatBatch: [${t.dims}] does not stack with [${first.dims}]`)
  const data = new Float32Array(ts.reduce((n, t) => n + t.data.length, 0))
  let at = 0
  for (const t of ts) {
    data.set(t.data, at)
    at += t.data.length
  }
  return { data, dims: [ts.reduce((n, t) => n + (t.dims[0] as number), 0), ...first.dims.slice(1)] }
}

/** Batch rows [start, end) as a view. */
export function sliceBatch(t: HostTensor, start: number, end: number): HostTensor {
  const per = numel(t.dims.slice(1))
  return { data: t.data.subarray(start * per, end * per), dims: [end - start, ...t.dims.slice(1)] }
}

/** A graph output that must be there. */
export function outputOf(outputs: Record<string, HostTensor>, name: string): HostTensor {
  const t = outputs[name]
  if (!t) throw new Error(`the graph has no float output "${name}"`)
  return t
}
