// How a graph treats the image's borders. Plain graphs do what the official code does: zero padding (depthwise
// convs, Stage A's upsampler), replicate padding (Stage A's depthwise convs), clamped resizes. A tile graph
// (`*_tile.onnx`, `cascade convert --tiling`) has one more input, `tiling`: bool (2), (height, width). On each
// axis it selects, the graph wraps around instead (circular padding, periodic resizes), so that there it commutes
// with circular shifts by multiples of its stride and its output tiles seamlessly; an axis it does not select
// keeps the official treatment. One graph serves `tiling: true`, "x" and "y": a second copy of the weights' sessions
// per axis mode would cost more than the few Where nodes that select the mode at run time.
import type { Graph, Value } from '../onnx/graph.ts'
import { concat, slice } from '../onnx/ops.ts'

export const TILING_INPUT = 'tiling'

/** Image axes in the order of the `tiling` input: 0 height (y), 1 width (x). */
export type ImageAxis = 0 | 1

/** What lies past an edge that does not wrap: zeros (Conv padding) or the edge repeated (ReplicationPad2d). */
export type Fill = 'zeros' | 'edge'

export interface Borders {
  readonly tiled: boolean
  /**
   * For a conv that pads H and W of NCHW `x` by `p` with `fill`: its input, and the zero padding it still applies
   * itself (plain graphs keep the padding inside the Conv).
   */
  convInput(x: Value, p: number, fill: Fill): { x: Value; pad: number }
  /** `x` with `p` (at most the axis size) cells before and after `axis`, which is image axis `image`. */
  pad(x: Value, axis: number, image: ImageAxis, p: number, fill: Fill): Value
  /** A resize's (out × in) weights along an image axis: `plain`, or `periodic` where the axis wraps. */
  resizeWeights(image: ImageAxis, plain: () => Value, periodic: () => Value): Value
}

/** Slice ends past any axis (onnxruntime clamps them); exactly representable as an int64. */
const TO_END = Number.MAX_SAFE_INTEGER

/** The graph's borders: a tile graph's (GraphOptions.tiling) or the official ones. */
export function bordersOf(g: Graph): Borders {
  return g.tiling ? tiledBorders(g) : plainBorders(g)
}

function plainBorders(g: Graph): Borders {
  const mode = (fill: Fill): Record<string, string> => (fill === 'edge' ? { mode: 'edge' } : {})
  return {
    tiled: false,
    convInput: (x, p, fill) =>
      fill === 'zeros'
        ? { x, pad: p }
        : { x: g.op1('Pad', [x, g.constI64([0, 0, p, p, 0, 0, p, p])], mode(fill)), pad: 0 },
    pad: (x, axis, _image, p, fill) =>
      g.op1('Pad', [x, g.constI64([p, p]), '', g.constI64([axis])], mode(fill)),
    resizeWeights: (_image, plain) => plain(),
  }
}

function tiledBorders(g: Graph): Borders {
  const flag = (image: ImageAxis) =>
    g.memo(`${TILING_INPUT}.${image}`, () =>
      slice(
        g,
        g.memo(TILING_INPUT, () => g.input(TILING_INPUT, [2], 'bool')),
        0,
        image,
        image + 1,
      ),
    )
  // Where broadcasts the (1) flag, and a 1-wide edge or a scalar zero over the p cells.
  const where = (c: Value, a: Value, b: Value) => g.op1('Where', [c, a, b], {}, { outType: a.type })
  const pad = (x: Value, axis: number, image: ImageAxis, p: number, fill: Fill) => {
    const zero = () => g.constF([0], [], x.type)
    const before = fill === 'zeros' ? zero() : slice(g, x, axis, 0, 1)
    const after = fill === 'zeros' ? zero() : slice(g, x, axis, -1, TO_END)
    const f = flag(image)
    return concat(
      g,
      [where(f, slice(g, x, axis, -p, TO_END), before), x, where(f, slice(g, x, axis, 0, p), after)],
      axis,
    )
  }
  return {
    tiled: true,
    convInput: (x, p, fill) => ({ x: pad(pad(x, 2, 0, p, fill), 3, 1, p, fill), pad: 0 }),
    pad,
    resizeWeights: (image, plain, periodic) => where(flag(image), periodic(), plain()),
  }
}
