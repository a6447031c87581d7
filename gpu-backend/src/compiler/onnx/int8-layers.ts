// Which linear and 1×1 layers of an int8 graph get int8 weights: all of them, but those a keep-fp32 pattern
// names. A pattern is a glob (picomatch) matched against the layer's module path
// (`down_blocks.0.2.attention.attn.in_proj`) and against `<graph>/<path>` (`stage_b/clf.1`, the graph as in its
// file name); `*` stops at nothing but a slash, so a plain pattern names layers of every graph.
import picomatch from 'picomatch'

export interface KeepFp32 {
  pattern: string
  /** Why it stays fp32 (the sensitivity pass, or no speed to gain). */
  why: string
}

/**
 * The layers `--dtype int8` keeps in fp32 unless told otherwise (README: precision). From the sensitivity pass on
 * the released sizes (each group made int8 alone, single-forward error against fp32: bench/int8.ts with
 * BENCH_INT8_PARTS=sensitivity, run once while building this list; not in bench/results.md): a model's
 * first and last layers each cost 0.4–1.9 % of its output, its MLPs' dozens of layers 2–3 % together, so the first
 * and last layers, which hold a negligible share of the work, stay fp32.
 */
export const DEFAULT_KEEP_FP32: readonly KeepFp32[] = [
  {
    pattern: '*.{mapper,mapper_*}',
    why: 'TimestepBlock mappers read the time embedding, which stays fp32 (one row per image: nothing to gain)',
  },
  {
    pattern: '{embedding.1,projection,stage_a_decoder/up_blocks.0.0,stage_a_encoder/in_block.1}',
    why: 'first layers: 4–48 input channels, no speed to gain; 0.4–1.1 % of the output each',
  },
  {
    pattern: '{clf.1,out.1,out_block.0,stage_a_encoder/down_blocks.*.0,text_projection,visual_projection}',
    why: 'last layers and output projections: their error reaches the output unchanged (1.1–1.9 % each)',
  },
  {
    pattern: '{down_downscalers,up_upscalers}.*',
    why: "Stage C's 1×1 level changes: 0.2 % of its work, the upscaler alone 1.8 % of the output",
  },
  {
    pattern: '{down_repeat_mappers,up_repeat_mappers}.*',
    why: "Stage B's 1×1 repeat mappers: 0.3 % of its work, up to 1.6 % of the output each",
  },
  {
    pattern: '{effnet_mapper,effnet_mappers,pixels_mapper}.*',
    why: "Stage B's effnet / pixels inputs: the unconditional half of a guided batch is zeros, so one activation scale for both halves loses it (25 % error)",
  },
]

export const defaultKeepFp32 = (): string[] => DEFAULT_KEEP_FP32.map((k) => k.pattern)

export class Int8Layers {
  /** Layers given int8 weights, and layers a pattern kept in fp32, in build order. */
  readonly int8: string[] = []
  readonly fp32: string[] = []
  private readonly matchers: picomatch.Matcher[]

  constructor(
    private readonly graph: string,
    readonly keepFp32: readonly string[],
  ) {
    this.matchers = keepFp32.map((p) => picomatch(p))
  }

  /** Whether layer `name` gets int8 weights; each answer is recorded once. */
  quantizes(name: string): boolean {
    const qualified = `${this.graph}/${name}`
    const keep = this.matchers.some((m) => m(name) || m(qualified))
    const list = keep ? this.fp32 : this.int8
    if (!list.includes(name)) list.push(name)
    return !keep
  }
}
