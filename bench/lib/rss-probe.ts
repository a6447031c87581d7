// Child process of bench/pipeline.ts: loads one model directory, generates once, and prints its memory as JSON
// (a fresh process, so the peak belongs to this model alone). `mem-pattern` turns onnxruntime's memory pattern on.
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { IMAGE_GRAPH_NAMES } from '../../gpu-backend/src/compiler/manifest.ts'
import { generate } from '../../gpu-backend/src/pipeline/generate.ts'
import { loadModel } from '../../gpu-backend/src/pipeline/model.ts'

const [dir, size] = [process.argv[2] as string, Number(process.argv[3])]
const memPattern = process.argv[4] === 'mem-pattern'
const before = process.memoryUsage().rss
const model = await loadModel(dir, { memPattern })
const loaded = process.memoryUsage().rss
// The text-to-image graphs and their external data: not the tokenizers, nor the image graphs or the tile graphs
// (never loaded here).
const { effnet, clipVision, previewer, stageCControlNet } = IMAGE_GRAPH_NAMES
const imageGraphs = [effnet, clipVision, previewer, stageCControlNet, IMAGE_GRAPH_NAMES.controlnet('')]
const graphBytes = model.manifest.files
  .filter((f) => !/\.(json|txt)$|_tile\.onnx$/.test(f.path) && !imageGraphs.some((g) => f.path.startsWith(g)))
  .reduce((n, f) => n + statSync(join(dir, f.path)).size, 0)
await generate(model, {
  width: size,
  height: size,
  images: [{ seed: 1, prompt: 'a lighthouse at dusk', negativePrompt: '', format: 'png' }],
  priorSteps: 4,
  priorGuidance: 4,
  decoderSteps: 2,
  decoderGuidance: 1.1,
})
// maxRSS: the process's peak resident set, in KiB.
console.log(JSON.stringify({ before, loaded, peak: process.resourceUsage().maxRSS * 1024, graphBytes }))
process.exit(0)
