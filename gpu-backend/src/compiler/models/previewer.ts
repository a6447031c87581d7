// Stable Cascade's Previewer (SC modules/previewer.py; `previewer.safetensors`): a fast decoder of Stage C
// latents to RGB for live previews, 8× larger: `blocks` = [Conv 1×1, Conv 3×3, then three times ConvTranspose
// k2 s2 and Conv 3×3], each followed by GELU and eval BatchNorm, then a final Conv 1×1 to RGB.
import { batchNorm2d } from '../blocks/batch-norm.ts'
import { Graph, type Value } from '../onnx/graph.ts'
import { conv2d, convTranspose2d, gelu } from '../onnx/ops.ts'
import { CheckpointError, type StateDict } from '../weights/state-dict.ts'
import { type Kwargs, pick } from './config.ts'
import type { StageOptions } from './stage-c.ts'

export interface PreviewerConfig {
  cIn: number
  cHidden: number
  cOut: number
}

/** nn.BatchNorm2d's default eps. */
const BN_EPS = 1e-5

/** One Conv / ConvTranspose of `blocks`, with its input and output widths. */
interface Layer {
  kind: 'conv1' | 'conv3' | 'up'
  cIn: number
  cOut: number
}

/** The official sequence; every layer but the last is followed by GELU and BatchNorm (3 Sequential indices each). */
function layers({ cIn, cHidden: h, cOut }: PreviewerConfig): Layer[] {
  return [
    { kind: 'conv1', cIn, cOut: h },
    { kind: 'conv3', cIn: h, cOut: h },
    { kind: 'up', cIn: h, cOut: h / 2 },
    { kind: 'conv3', cIn: h / 2, cOut: h / 2 },
    { kind: 'up', cIn: h / 2, cOut: h / 4 },
    { kind: 'conv3', cIn: h / 4, cOut: h / 4 },
    { kind: 'up', cIn: h / 4, cOut: h / 4 },
    { kind: 'conv3', cIn: h / 4, cOut: h / 4 },
    { kind: 'conv1', cIn: h / 4, cOut },
  ]
}

/** The final Conv 1×1 to RGB (after 8 conv / GELU / BatchNorm triples). */
const LAST = 'blocks.24.weight'

export function previewerConfig(sd: StateDict, kwargs?: Kwargs): PreviewerConfig {
  const first = sd.shapeOf('blocks.0.weight')
  const last = sd.shapeOf(LAST)
  if ((!first || !last) && !kwargs)
    throw new CheckpointError(`${sd.source}: not a Previewer checkpoint (no blocks.0.weight and ${LAST})`)
  return {
    cIn: pick(kwargs, 'c_in', first?.[1] ?? 16),
    cHidden: pick(kwargs, 'c_hidden', first?.[0] ?? 512),
    cOut: pick(kwargs, 'c_out', last?.[0] ?? 3),
  }
}

/** `previewer`: x (B, c_in, h, w), a Stage C latent (pass x0̂ for previews) -> image (B, c_out, 8h, 8w), about [0, 1]. */
export function buildPreviewer(sd: StateDict, cfg: PreviewerConfig, opts: StageOptions = {}): Graph {
  const g = new Graph('previewer', opts)
  let h: Value = g.input('x', ['batch', cfg.cIn, 'height', 'width'])
  const all = layers(cfg)
  all.forEach((l, i) => {
    const name = `blocks.${3 * i}`
    const bias = sd.take(`${name}.bias`, [l.cOut])
    h =
      l.kind === 'up'
        ? convTranspose2d(g, h, sd.take(`${name}.weight`, [l.cIn, l.cOut, 2, 2]), bias, name, {
            stride: 2,
            pad: 0,
          })
        : conv2d(
            g,
            h,
            sd.take(`${name}.weight`, [
              l.cOut,
              l.cIn,
              l.kind === 'conv3' ? 3 : 1,
              l.kind === 'conv3' ? 3 : 1,
            ]),
            bias,
            name,
            {
              pad: l.kind === 'conv3' ? 1 : 0,
            },
          )
    if (i < all.length - 1) h = batchNorm2d(g, gelu(g, h), sd, `blocks.${3 * i + 2}`, l.cOut, BN_EPS)
  })
  g.output(h, 'image', ['batch', cfg.cOut, 'image_height', 'image_width'])
  sd.assertComplete()
  return g
}
