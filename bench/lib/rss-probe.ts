// Child process of bench/pipeline.ts: loads one model directory, generates once, and prints its memory as JSON
// (a fresh process, so the peak belongs to this model alone). `mem-pattern` turns onnxruntime's memory pattern on.
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { IMAGE_GRAPH_NAMES } from '../../gpu-backend/src/compiler/manifest.ts'
import { generate } from '../../gpu-backend/src/pipeline/generate.ts'
import { stageCGraphName } from '../../gpu-backend/src/pipeline/image-graphs.ts'
import { loadModel } from '../../gpu-backend/src/pipeline/model.ts'

const [dir, size] = [process.argv[2] as string, Number(process.argv[3])]
const memPattern = process.argv[4] === 'mem-pattern'
const before = process.memoryUsage().rss
const model = await loadModel(dir, { memPattern })
const loaded = process.memoryUsage().rss
// The graphs the model loads and their external data: not the tokenizers, nor the super-resolution ControlNet
// (converted, not served), nor stage_c.onnx's own proto when Stage C runs as its ControlNet graph (which reads
// the same weights file), nor the tile graphs and any data file of theirs (loaded only for a tiled image).
const unused = [IMAGE_GRAPH_NAMES.controlnet('super_resolution')]
if (stageCGraphName(model.manifest) !== 'stage_c') unused.push('stage_c.onnx')
const graphBytes = model.manifest.files
  .filter(
    (f) =>
      !/\.(json|txt)$|_tile\.onnx(\.data)?$/.test(f.path) &&
      !unused.some((u) => f.path === u || f.path.startsWith(`${u}.onnx`)),
  )
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
