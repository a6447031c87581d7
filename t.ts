import { scModelDir, tableText } from './test/parity/golden-runs.ts'
import { loadModel } from './gpu-backend/src/pipeline/model.ts'
import { generate } from './gpu-backend/src/pipeline/generate.ts'
import { readCase, goldenPath } from './test/parity/golden.ts'
const m = await loadModel(await scModelDir(true))
const c = readCase(goldenPath('image','cases','img2img_sampling.safetensors'))
const run0 = m.stages.b.run.bind(m.stages.b)
;(m.stages.b as any).run = (f: any) => { console.log(Object.fromEntries(Object.entries(f).map(([k, v]: any) => [k, v.dims]))); return run0(f) }
const row = (name: string) => { const x = c.get(name); return { data: x.data, dims: x.shape } }
const text = tableText((_, p) => { const pre = p === '' ? 'uncond' : 'cond'; const pooled = row(`${pre}.clip_text_pooled`); return { hidden_pre_norm: row(`${pre}.clip_text`), text_embeds: { data: pooled.data, dims: [1, 32] } } })
const img = { width: 96, height: 96, planes: new Float32Array(3*96*96).fill(0.3) }
try {
await generate(m, { width: 96, height: 96, images: [{seed: 0, prompt: 'a', negativePrompt: '', inputs: { init: img }}], strength: 0.8, priorSteps: 5, priorGuidance: 4, decoderSteps: 1, decoderGuidance: 0 }, { text, latents: { c: [3,3], b: [32, 32] } })
} catch (e) { console.log((e as Error).message.slice(0, 100)) }
