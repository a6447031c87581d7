// Stable Cascade's EfficientNetEncoder (SC modules/effnet.py; `effnet_encoder.safetensors`): ImageNet
// normalization, EfficientNetV2-S features, then `mapper` = Conv 1×1 without bias + BatchNorm2d(affine=False).
// Its output is the 16-channel latent Stage C samples in (img2img, image reconstruction, Stage B conditioning).
import { batchNorm2d } from '../blocks/batch-norm.ts'
import { type EffnetLayout, type EffnetStage, efficientNetV2Features } from '../blocks/efficientnet-v2.ts'
import { normalizeImage } from '../blocks/normalize-image.ts'
import { Graph } from '../onnx/graph.ts'
import { conv2d } from '../onnx/ops.ts'
import { CheckpointError, type StateDict } from '../weights/state-dict.ts'
import { type Kwargs, pick } from './config.ts'
import { effnetLayout } from './effnet-layout.ts'
import type { StageOptions } from './stage-c.ts'

export interface EffnetEncoderConfig extends EffnetLayout {
  cLatent: number
}

/** torchvision's ImageNet statistics (SC train/train_c.py). */
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }
/** The mapper's BatchNorm2d(c_latent, affine=False) keeps nn.BatchNorm2d's default eps. */
const MAPPER_EPS = 1e-5

/** Widths and layer counts from the checkpoint (or the config's inverted_residual_setting), c_latent from the mapper. */
export function effnetEncoderConfig(sd: StateDict, kwargs?: Kwargs): EffnetEncoderConfig {
  const setting = kwargs?.inverted_residual_setting as EffnetStage[] | undefined
  const layout = effnetLayout(sd, 'backbone', setting, kwargs?.last_channel as number | undefined)
  if (!layout || (!sd.shapeOf('mapper.0.weight') && !kwargs))
    throw new CheckpointError(
      `${sd.source}: not an EfficientNet encoder checkpoint (no backbone.0.0.weight and mapper.0.weight)`,
    )
  return { ...layout, cLatent: pick(kwargs, 'c_latent', sd.shapeOf('mapper.0.weight')?.[0] ?? 16) }
}

/** `effnet_encoder`: image (B, 3, H, W) RGB in [0, 1] -> latent (B, c_latent, H/32, W/32). */
export function buildEffnetEncoder(sd: StateDict, cfg: EffnetEncoderConfig, opts: StageOptions = {}): Graph {
  const g = new Graph('effnet_encoder', opts)
  const image = g.input('image', ['batch', 3, 'height', 'width'])
  const features = efficientNetV2Features(g, normalizeImage(g, image, IMAGENET), sd, 'backbone', cfg)
  const w = sd.take('mapper.0.weight', [cfg.cLatent, cfg.lastChannel, 1, 1])
  const latent = batchNorm2d(
    g,
    conv2d(g, features, w, undefined, 'mapper.0'),
    sd,
    'mapper.1',
    cfg.cLatent,
    MAPPER_EPS,
    false,
  )
  g.output(latent, 'latent', ['batch', cfg.cLatent, 'latent_height', 'latent_width'])
  sd.assertComplete()
  return g
}
