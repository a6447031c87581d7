// Which linear and 1×1 layers of an int8 graph get int8 weights: all of them, but those a keep-fp32 pattern
// names. A pattern is a glob (picomatch) over the layer's module path (`down_blocks.0.2.attention.attn.in_proj`),
// or over `<graph>/<path>` when it holds a slash (`stage_b/clf.1`); `*` stops at nothing but a slash.
import picomatch from 'picomatch'

export interface KeepFp32 {
  pattern: string
  /** Why it stays fp32 (the sensitivity pass, or no speed to gain). */
  why: string
}

/** The layers `--dtype int8` keeps in fp32 unless told otherwise (README: precision). */
export const DEFAULT_KEEP_FP32: readonly KeepFp32[] = [
  {
    pattern: '*.{mapper,mapper_*}',
    why: 'TimestepBlock mappers read the time embedding, which stays fp32 (one row per image: nothing to gain)',
  },
]

export const defaultKeepFp32 = (): string[] => DEFAULT_KEEP_FP32.map((k) => k.pattern)

export class Int8Layers {
  /** Layers given int8 weights, and layers a pattern kept in fp32, in build order. */
  readonly int8: string[] = []
  readonly fp32: string[] = []
  private readonly matchers: ((name: string) => boolean)[]

  constructor(
    private readonly graph: string,
    readonly keepFp32: readonly string[],
  ) {
    this.matchers = keepFp32.map((p) => {
      const m = picomatch(p)
      return p.includes('/') ? (name: string) => m(`${this.graph}/${name}`) : m
    })
  }

  /** Whether layer `name` gets int8 weights; each answer is recorded once. */
  quantizes(name: string): boolean {
    const keep = this.matchers.some((m) => m(name))
    const list = keep ? this.fp32 : this.int8
    if (!list.includes(name)) list.push(name)
    return !keep
  }
}
