// A StateDict with no tensors that records every key and shape a graph builder asks for: building a
// graph against it yields the checkpoint schema of an architecture config (used by make-tiny).
import { type LazyTensor, type ShapeSpec, StateDict } from './state-dict.ts'

/** Stands in for the axes a builder leaves open (only depthwise kernel sizes: 3 in every config). */
const OPEN_AXIS = 3

export class SchemaRecorder extends StateDict {
  readonly schema = new Map<string, number[]>()

  constructor() {
    super('(schema)', new Map())
  }

  override take(key: string, shape: ShapeSpec): LazyTensor {
    const dims = shape.map((d) => d ?? OPEN_AXIS)
    this.schema.set(key, dims)
    return { shape: dims, dtype: 'F32', read: () => new Float32Array(dims.reduce((a, b) => a * b, 1)) }
  }
}
