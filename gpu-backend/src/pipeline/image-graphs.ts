// Stable Cascade's image graphs in a loaded model (each optional, IMAGE_GRAPH_NAMES): the EfficientNet encoder
// (img2img), CLIP vision (variation), the previewer (live previews) and the ControlNets (canny, inpainting), and
// what the model can do with them. ControlNets need Stage C's ControlNet graph, whose `cnet_<k>` inputs must take
// every output of each ControlNet: one that does not fit is a load error that says so.
import { z } from 'zod'
import type { Mode, ModelCapabilities } from '../../../shared/src/index.ts'
import { IMAGE_GRAPH_NAMES, type Manifest } from '../compiler/manifest.ts'
import type { ort } from '../runtime/session.ts'

/** The ControlNets the API offers (super-resolution is converted, not served). */
export const SERVED_CONTROLNETS = ['canny', 'inpainting'] as const
export type ServedControlNet = (typeof SERVED_CONTROLNETS)[number]

/** The manifest's resolved ControlNet config (compiler/models/controlnet.ts ControlNetConfig), the part used here. */
const ControlNetInfo = z.object({
  type: z.string(),
  cIn: z.number().int(),
  cProj: z.number().int(),
  projBlocks: z.array(z.number().int()),
  hintStride: z.number().int(),
})

export interface ControlNetGraph {
  type: ServedControlNet
  session: ort.InferenceSession
  /** Hint channels and pixels per Stage C latent position. */
  cIn: number
  hintStride: number
}

export interface ImageGraphs {
  effnet?: ort.InferenceSession
  clipVision?: { session: ort.InferenceSession; size: number }
  previewer?: ort.InferenceSession
  controlnets: Partial<Record<ServedControlNet, ControlNetGraph>>
}

type Loader = (name: string) => Promise<ort.InferenceSession>

/** The graph Stage C runs as: its ControlNet graph when the model has one (zeros for unused `cnet_<k>`). */
export const stageCGraphName = (manifest: Manifest) =>
  manifest.graphs[IMAGE_GRAPH_NAMES.stageCControlNet] ? IMAGE_GRAPH_NAMES.stageCControlNet : 'stage_c'

function controlNetInfo(manifest: Manifest, type: ServedControlNet) {
  const g = manifest.graphs[IMAGE_GRAPH_NAMES.controlnet(type)]
  return g ? ControlNetInfo.parse(g.config) : undefined
}

/**
 * Throws unless every output `cnet_<k>` of the ControlNet is an input of Stage C's ControlNet graph with the same
 * channels (the converter leaves out ControlNets that do not fit; this catches a directory assembled by hand).
 */
export function checkControlNetFits(
  dir: string,
  type: string,
  info: { cProj: number; projBlocks: number[] },
  stageC: ort.InferenceSession,
): void {
  const inputs = new Map(
    stageC.inputMetadata
      .filter((m) => m.name.startsWith('cnet_'))
      .map((m) => [m.name, m.isTensor ? m.shape : []]),
  )
  const misfits = info.projBlocks.filter((k) => inputs.get(`cnet_${k}`)?.[1] !== info.cProj)
  if (misfits.length)
    throw new Error(
      `${dir}: ${IMAGE_GRAPH_NAMES.controlnet(type)}.onnx does not fit this model's Stage C: its ${info.cProj}-channel ` +
        `outputs for ResBlock calls ${misfits.join(', ')} have no matching input in ` +
        `${IMAGE_GRAPH_NAMES.stageCControlNet}.onnx (${[...inputs.keys()].join(', ') || 'no cnet inputs'}). The ` +
        'released ControlNets fit Stage C big only; `cascade convert` leaves out those that do not fit.',
    )
}

export async function loadImageGraphs(
  dir: string,
  manifest: Manifest,
  stageC: ort.InferenceSession,
  load: Loader,
): Promise<ImageGraphs> {
  const has = (name: string) => manifest.graphs[name] !== undefined
  const graphs: ImageGraphs = { controlnets: {} }
  if (has(IMAGE_GRAPH_NAMES.effnet)) graphs.effnet = await load(IMAGE_GRAPH_NAMES.effnet)
  if (has(IMAGE_GRAPH_NAMES.previewer)) graphs.previewer = await load(IMAGE_GRAPH_NAMES.previewer)
  if (has(IMAGE_GRAPH_NAMES.clipVision)) {
    const session = await load(IMAGE_GRAPH_NAMES.clipVision)
    const image = session.inputMetadata.find((m) => m.name === 'image')
    const size = image?.isTensor ? image.shape[3] : undefined
    if (typeof size !== 'number') throw new Error(`${dir}: clip_vision.onnx has no fixed image size`)
    const embeds = session.outputMetadata.find((m) => m.name === 'image_embeds')
    const clipImg = stageC.inputMetadata.find((m) => m.name === 'clip_img')
    const [have, want] = [embeds, clipImg].map((m) => (m?.isTensor ? m.shape.at(-1) : undefined))
    if (have !== want)
      throw new Error(
        `${dir}: clip_vision.onnx gives ${have}-wide image embeddings, Stage C's clip_img takes ${want}: it is not this model's CLIP vision tower`,
      )
    graphs.clipVision = { session, size }
  }
  for (const type of SERVED_CONTROLNETS) {
    const info = controlNetInfo(manifest, type)
    if (!info) continue
    if (stageC.inputNames.every((n) => !n.startsWith('cnet_')))
      throw new Error(
        `${dir}: ${IMAGE_GRAPH_NAMES.controlnet(type)}.onnx needs ${IMAGE_GRAPH_NAMES.stageCControlNet}.onnx, which is missing`,
      )
    checkControlNetFits(dir, type, info, stageC)
    graphs.controlnets[type] = {
      type,
      session: await load(IMAGE_GRAPH_NAMES.controlnet(type)),
      cIn: info.cIn,
      hintStride: info.hintStride,
    }
  }
  return graphs
}

/** What a model directory offers, from its manifest: the modes its graphs allow and whether it previews. */
export function capabilitiesOf(manifest: Manifest): ModelCapabilities {
  const has = (name: string) => manifest.graphs[name] !== undefined
  const effnet = has(IMAGE_GRAPH_NAMES.effnet)
  const cnet = (type: ServedControlNet) =>
    has(IMAGE_GRAPH_NAMES.stageCControlNet) && controlNetInfo(manifest, type) !== undefined
  const modes: Mode[] = ['text']
  if (has(IMAGE_GRAPH_NAMES.clipVision)) modes.push('variation')
  if (effnet) modes.push('img2img')
  if (effnet && cnet('inpainting')) modes.push('inpainting', 'outpainting')
  if (cnet('canny')) modes.push('canny')
  return { modes, previews: has(IMAGE_GRAPH_NAMES.previewer) }
}
