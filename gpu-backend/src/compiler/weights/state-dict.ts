// A checkpoint as the graph builders see it: official key names, lazy tensors, and an audit of
// which keys were used, so a missing, unexpected or wrongly shaped key is reported by name.
import type { SafetensorsDtype } from './dtype.ts'
import type { SafetensorsFile } from './safetensors.ts'

export interface LazyTensor {
  shape: number[]
  dtype: SafetensorsDtype
  /** Reads the tensor widened to float32 (only called when the model is written). */
  read(): Float32Array
}

/** Expected shape; `null` accepts any size on that axis (sizes the checkpoint determines). */
export type ShapeSpec = (number | null)[]

export class CheckpointError extends Error {}

export class StateDict {
  private readonly taken = new Set<string>()
  private readonly problems: string[] = []

  constructor(
    readonly source: string,
    private readonly entries: Map<string, LazyTensor>,
  ) {}

  static fromSafetensors(files: SafetensorsFile[]): StateDict {
    const entries = new Map<string, LazyTensor>()
    for (const f of files)
      for (const t of f.tensors.values())
        entries.set(t.name, { shape: t.shape, dtype: t.dtype, read: () => f.readFloat32(t.name) })
    return new StateDict(files.map((f) => f.path).join(', '), entries)
  }

  static fromTensors(
    source: string,
    tensors: Record<string, { shape: number[]; data: Float32Array }>,
  ): StateDict {
    const entries = new Map<string, LazyTensor>()
    for (const [k, t] of Object.entries(tensors))
      entries.set(k, { shape: t.shape, dtype: 'F32', read: () => t.data })
    return new StateDict(source, entries)
  }

  keys(): string[] {
    return [...this.entries.keys()]
  }

  has(key: string): boolean {
    return this.entries.has(key)
  }

  /** Shape of a key without taking it (for reading architecture sizes off the checkpoint). */
  shapeOf(key: string): number[] | undefined {
    return this.entries.get(key)?.shape
  }

  /** Replaces keys (format conversion, e.g. diffusers -> original names). */
  rename(map: (key: string) => string): void {
    const moved = [...this.entries].map(([k, v]) => [map(k), v] as const)
    this.entries.clear()
    for (const [k, v] of moved) this.entries.set(k, v)
  }

  set(key: string, t: LazyTensor): void {
    this.entries.set(key, t)
  }

  /** Replaces a tensor by a function of it (LoRA merging) without counting it as used. */
  replace(key: string, f: (t: LazyTensor) => LazyTensor): void {
    const t = this.entries.get(key)
    if (!t) throw new CheckpointError(`${this.source}: no tensor ${key}`)
    this.entries.set(key, f(t))
  }

  delete(key: string): void {
    this.entries.delete(key)
  }

  /**
   * Takes a tensor for the graph. A missing or misshapen key is recorded, not thrown, so that one
   * build reports every problem; a zero tensor of the expected shape stands in meanwhile.
   */
  take(key: string, shape: ShapeSpec): LazyTensor {
    this.taken.add(key)
    const t = this.entries.get(key)
    const want = `[${shape.map((d) => d ?? '*').join(', ')}]`
    if (!t) {
      this.problems.push(`missing ${key} ${want}`)
      return zeros(shape.map((d) => d ?? 1))
    }
    if (t.shape.length !== shape.length || shape.some((d, i) => d !== null && d !== t.shape[i])) {
      this.problems.push(`wrong shape for ${key}: [${t.shape.join(', ')}], expected ${want}`)
      return zeros(shape.map((d, i) => d ?? t.shape[i] ?? 1))
    }
    return t
  }

  /** Marks keys that exist in checkpoints but that the graph does not need (e.g. the unused VQ codebook). */
  ignore(pred: (key: string) => boolean): void {
    for (const k of this.entries.keys()) if (pred(k)) this.taken.add(k)
  }

  /**
   * Throws one error listing every missing, misshapen and unexpected key. `owns` limits the unexpected-key
   * check to the keys this graph answers for, when one checkpoint compiles into several graphs (Stage A).
   */
  assertComplete(owns: (key: string) => boolean = () => true): void {
    const unexpected = [...this.entries.keys()]
      .filter((k) => owns(k) && !this.taken.has(k))
      .map((k) => `unexpected ${k}`)
    const all = [...this.problems, ...unexpected]
    if (all.length === 0) return
    const shown = all.slice(0, 40).join('\n  ')
    const more = all.length > 40 ? `\n  ... and ${all.length - 40} more` : ''
    throw new CheckpointError(`checkpoint ${this.source} does not fit the architecture:\n  ${shown}${more}`)
  }
}

/**
 * `t` with each row (index on axis 0) multiplied by a factor, on the host when the model is written (weight
 * folding). `factors` gives one factor per row, or one for all rows.
 */
export function scaleRows(t: LazyTensor, factors: () => number | ArrayLike<number>): LazyTensor {
  const rows = t.shape[0] ?? 1
  return {
    ...t,
    read: () => {
      const data = t.read()
      const f = factors()
      const per = data.length / rows
      return data.map((v, i) => v * (typeof f === 'number' ? f : (f[Math.floor(i / per)] as number)))
    },
  }
}

function zeros(shape: number[]): LazyTensor {
  return { shape, dtype: 'F32', read: () => new Float32Array(shape.reduce((a, b) => a * b, 1)) }
}

/** Tensors stacked along their first axis (e.g. q, k, v projections packed into one (3C, C) matrix). */
export function stackRows(ts: LazyTensor[]): LazyTensor {
  const [first] = ts as [LazyTensor]
  return {
    shape: [ts.reduce((n, t) => n + (t.shape[0] as number), 0), ...first.shape.slice(1)],
    dtype: first.dtype,
    read: () => {
      const parts = ts.map((t) => t.read())
      const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
      let offset = 0
      for (const p of parts) {
        out.set(p, offset)
        offset += p.length
      }
      return out
    },
  }
}
