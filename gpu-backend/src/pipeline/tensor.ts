// Host-side float32 tensors (batch first) and the few batch operations the pipeline needs.
import { floatTensor, type ort } from '../runtime/session.ts'

export type DiffusionStage = 'c' | 'b'

export interface HostTensor {
  data: Float32Array
  dims: number[]
}

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

export const toOrt = (t: HostTensor): ort.Tensor => floatTensor(t.data, t.dims)

export function fromOrt(t: ort.Tensor | undefined, name: string): HostTensor {
  if (t?.type !== 'float32') throw new Error(`expected a float32 output "${name}"`)
  return { data: t.data as Float32Array, dims: t.dims.map(Number) }
}
