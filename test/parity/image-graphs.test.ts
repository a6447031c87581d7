// The image graphs against the official modules (golden image/cases: EfficientNetEncoder, Previewer, CLIP vision,
// ControlNets, Stage C with ControlNet inputs), each compiled by convertStage (what `cascade convert --stage S
// --weights W --config C` runs) into a directory and run from its file. Cases, weights and configs are found from
// the case files' metadata; every size comes from the files.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { convertStage } from '../../gpu-backend/src/compiler/convert.ts'
import type { StageId } from '../../gpu-backend/src/compiler/stages.ts'
import { createSession, floatTensor, type ort } from '../../gpu-backend/src/runtime/session.ts'
import { goldenPath, readCase, relErr } from './golden.ts'

// Image README: 5e-4 relative (max |diff| / max |ref|) per forward.
const TOL = 5e-4
const IMAGE = goldenPath('image')

/** Which converter stage reproduces a case (by the case's file name). */
const STAGE_OF: [RegExp, StageId][] = [
  [/^effnet_encoder/, 'effnet'],
  [/^previewer/, 'previewer'],
  [/^clip_vision/, 'clip_vision'],
  [/^controlnet_/, 'controlnet'],
  [/^stage_c_cnet/, 'c'],
]
const cases = existsSync(join(IMAGE, 'cases'))
  ? readdirSync(join(IMAGE, 'cases')).filter((f) => STAGE_OF.some(([re]) => re.test(f)))
  : []

/**
 * The weights a case names in its metadata (`weights/x_tiny.safetensors`, or a file "of the text-to-image set"),
 * and the config beside them in the same set (`configs/x_tiny.json`).
 */
function sources(c: ReturnType<typeof readCase>): { weights: string; config?: string } {
  const named = c.file.metadata.weights ?? ''
  const file = /\S+\.safetensors/.exec(named)?.[0] ?? ''
  const set = /text-to-image set/.test(named) ? goldenPath() : IMAGE
  const weights = join(set, file.includes('/') ? file : join('weights', file))
  const config = join(set, 'configs', `${basename(file, '.safetensors')}.json`)
  return { weights, ...(existsSync(config) ? { config } : {}) }
}

async function compile(stage: StageId, weights: string, config?: string, controlnetBlocks?: number[]) {
  const out = mkdtempSync(join(tmpdir(), `golden-${stage}-`))
  const [written] = convertStage({
    family: 'stable-cascade',
    stage,
    weights: [weights],
    ...(config ? { config } : {}),
    ...(controlnetBlocks ? { controlnetBlocks } : {}),
    outDir: out,
  })
  return { dir: out, written, session: await createSession(join(out, written?.file ?? '')) }
}

/** Feeds every graph input from the case tensor of the same name. */
async function run(session: ort.InferenceSession, c: ReturnType<typeof readCase>) {
  const feeds = Object.fromEntries(
    session.inputNames.map((n) => [n, floatTensor(c.get(n).data, c.get(n).shape)]),
  )
  return session.run(feeds)
}

const cnetBlocks = (c: ReturnType<typeof readCase>) =>
  [...c.file.tensors.keys()]
    .map((k) => /^cnet_(\d+)$/.exec(k)?.[1])
    .filter((k) => k !== undefined)
    .map(Number)
    .sort((a, b) => a - b)

describe('image graphs parity (golden image/)', () => {
  it('finds the image cases', () => expect(cases.length).toBeGreaterThan(0))

  for (const f of cases) {
    const stage = STAGE_OF.find(([re]) => re.test(f))?.[1] as StageId
    it(`${f}: every output within ${TOL} of the official forward`, async () => {
      const c = readCase(join(IMAGE, 'cases', f))
      const { weights, config } = sources(c)
      // Stage C takes the ControlNet outputs the case feeds it; a ControlNet answers for the blocks it lists.
      const blocks = stage === 'c' ? cnetBlocks(c) : undefined
      const { session, dir, written } = await compile(stage, weights, config, blocks)
      const out = await run(session, c)
      for (const name of session.outputNames) {
        const ref = c.has(name) ? name : 'output'
        const got = out[name] as ort.Tensor
        expect(got.dims).toEqual(c.get(ref).shape)
        const err = relErr(got.data as Float32Array, c.get(ref).data)
        console.log(`${f} ${name}: max rel err ${err.toExponential(2)}`)
        expect(err, name).toBeLessThan(TOL)
      }
      if (stage === 'controlnet') {
        // controlnet.json: what the pipeline needs to feed the outputs to Stage C.
        const json = JSON.parse(readFileSync(join(dir, 'controlnet.json'), 'utf8'))
        expect(json.proj_blocks).toEqual(cnetBlocks(c))
        expect(json.c_in).toBe(c.get('hint').shape[1])
        expect(written?.files).toContain('controlnet.json')
      }
    })
  }

  const cnetCases = cases.filter((f) => /^stage_c_cnet/.test(f))
  for (const f of cnetCases)
    it(`${f}: the plain stage_c.onnx has no ControlNet inputs and gives output_without_cnet`, async () => {
      const c = readCase(join(IMAGE, 'cases', f))
      const { weights, config } = sources(c)
      const { session } = await compile('c', weights, config)
      expect(session.inputNames.some((n) => n.startsWith('cnet_'))).toBe(false)
      const out = await run(session, c)
      const err = relErr((out.eps as ort.Tensor).data as Float32Array, c.get('output_without_cnet').data)
      console.log(`${f} without cnet: max rel err ${err.toExponential(2)}`)
      expect(err).toBeLessThan(TOL)
      // The ControlNet inputs change the output: the case is not one where they add nothing.
      expect(relErr(c.get('output').data, c.get('output_without_cnet').data)).toBeGreaterThan(10 * TOL)
    })

  it('a ControlNet block past the last ResBlock call is refused by name', () => {
    expect(() =>
      convertStage({
        family: 'stable-cascade',
        stage: 'c',
        weights: [goldenPath('weights', 'stage_c_tiny.safetensors')],
        config: goldenPath('configs', 'stage_c_tiny.json'),
        controlnetBlocks: [0, 999],
        outDir: mkdtempSync(join(tmpdir(), 'cnet-')),
      }),
    ).toThrow(/ResBlock calls.*no ControlNet block 999/)
  })
})
