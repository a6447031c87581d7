// The official img2img recipe (golden image/cases/img2img_sampling) through our samplers and the real stage loop:
// x_init = gdf.diffuse(effnet latent, ε, t = strength, shift 1), then gdf.sample from t_start = strength over
// int(steps·strength) steps with the stage's shift, on the text-to-image set's tiny Stage C. The settings come from
// the case's metadata (its `call`); the recorded schedule, model outputs and noise draws check every part.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { convertStage } from '../../gpu-backend/src/compiler/convert.ts'
import type { NoiseSource } from '../../gpu-backend/src/pipeline/noise.ts'
import { sampleStage } from '../../gpu-backend/src/pipeline/sample.ts'
import type { HostTensor } from '../../gpu-backend/src/pipeline/tensor.ts'
import { createSession } from '../../gpu-backend/src/runtime/session.ts'
import { torchLinspace } from '../../gpu-backend/src/samplers/float32.ts'
import { cosineTNoiseCond, gdfDdpm, gdfDiffuse, logSnr } from '../../gpu-backend/src/samplers/gdf-ddpm.ts'
import { goldenPath, readCase, relErr } from './golden.ts'

// READMEs: sampler steps from recorded inputs 1e-4 (we hold 1e-5), a sampling run 1e-3.
const TOL_STEP = 1e-5
const TOL_RUN = 1e-3
const CASES = goldenPath('image', 'cases')
const files = existsSync(CASES) ? readdirSync(CASES).filter((f) => /^img2img/.test(f)) : []

type Case = ReturnType<typeof readCase>

/** `name=value` numbers of one call in the case's `call` metadata (`gdf.diffuse(...)` or `gdf.sample(...)`). */
function callArgs(c: Case, fn: string): Record<string, number> {
  const call = c.file.metadata.call ?? ''
  const at = call.indexOf(`${fn}(`)
  const body = at < 0 ? '' : (call.slice(at).split(';')[0] as string)
  return Object.fromEntries([...body.matchAll(/(\w+)=([\d.]+)/g)].map((m) => [m[1], Number(m[2])]))
}

function settings(c: Case) {
  const meta = c.file.metadata
  const sample = callArgs(c, 'gdf.sample')
  const strength = Number(meta.strength)
  return {
    strength,
    /** Official: int(steps · strength) model calls (the call's `timesteps=` where recorded). */
    timesteps: sample.timesteps ?? Math.trunc(Number(meta.steps) * strength),
    diffuseShift: callArgs(c, 'gdf.diffuse').shift ?? 1,
    shift: sample.shift as number,
    cfg: sample.cfg as number,
    cfgRho: sample.cfg_rho as number,
    tStart: sample.t_start ?? strength,
  }
}

function row(c: Case, name: string, i: number): Float32Array {
  const t = c.get(name)
  const n = t.data.length / (t.shape[0] as number)
  return t.data.subarray(i * n, (i + 1) * n)
}

const tensor = (c: Case, name: string): HostTensor => ({ data: c.get(name).data, dims: c.get(name).shape })

describe('img2img sampling (golden image/img2img_sampling)', () => {
  it('finds the cases', () => expect(files.length).toBeGreaterThan(0))

  for (const f of files) {
    const c = readCase(join(CASES, f))
    const s = settings(c)

    it(`${f}: settings read from the case`, () => {
      expect(s.timesteps).toBe((c.get('t').shape[0] as number) - 1)
      if (c.file.metadata.steps)
        expect(s.timesteps).toBe(Math.trunc(Number(c.file.metadata.steps) * s.strength))
      expect(s.tStart).toBe(s.strength)
      for (const v of [s.shift, s.cfg, s.cfgRho]) expect(Number.isFinite(v)).toBe(true)
    })

    it(`${f}: x_init = gdf.diffuse(x0, ε, t = strength, shift ${s.diffuseShift})`, () => {
      const x = gdfDiffuse(
        c.get('x0_image_latent').data,
        c.get('diffuse.epsilon').data,
        s.strength,
        s.diffuseShift,
      )
      const err = relErr(x, c.get('x_init').data)
      console.log(`${f} diffuse: ${err.toExponential(2)}`)
      expect(err).toBeLessThan(TOL_STEP)
    })

    it(`${f}: schedule from t_start (t, logSNR, r)`, () => {
      const t = torchLinspace(s.tStart, 0, s.timesteps + 1)
      expect(Array.from(t)).toEqual(Array.from(c.get('t').data))
      const l = Float32Array.from(t, (ti) => logSnr(ti, s.shift))
      expect(relErr(l, c.get('logsnr').data)).toBeLessThan(1e-6)
      const r = Float32Array.from(l.subarray(0, -1), cosineTNoiseCond)
      expect(relErr(r, c.get('r_model').data)).toBeLessThan(2e-7)
    })

    it(`${f}: every step from recorded inputs (guided pred, x0, x)`, () => {
      const sampler = gdfDdpm({ shift: s.shift, cfgRho: s.cfgRho })
      const t = c.get('t').data
      let worst = { pred: 0, x0: 0, x: 0 }
      for (let i = 0; i < s.timesteps; i++) {
        const pred = sampler.guide(row(c, 'pred_cond', i), row(c, 'pred_uncond', i), s.cfg)
        const out = sampler.step(
          row(c, 'pred', i),
          t[i] as number,
          t[i + 1] as number,
          row(c, 'x', i),
          row(c, 'noise', i),
        )
        worst = {
          pred: Math.max(worst.pred, relErr(pred, row(c, 'pred', i))),
          x0: Math.max(worst.x0, relErr(out.output, row(c, 'x0', i))),
          x: Math.max(worst.x, relErr(out.x, row(c, 'x', i + 1))),
        }
      }
      console.log(
        `${f} steps: pred ${worst.pred.toExponential(2)}, x0 ${worst.x0.toExponential(2)}, x ${worst.x.toExponential(2)}`,
      )
      for (const v of Object.values(worst)) expect(v).toBeLessThan(TOL_STEP)
    })

    it(`${f}: free-running from x_init through the stage loop within ${TOL_RUN}`, async () => {
      const out = mkdtempSync(join(tmpdir(), 'img2img-'))
      const [written] = convertStage({
        family: 'stable-cascade',
        stage: 'c',
        weights: [goldenPath('weights', 'stage_c_tiny.safetensors')],
        config: goldenPath('configs', 'stage_c_tiny.json'),
        outDir: out,
      })
      const session = await createSession(join(out, written?.file ?? ''))
      const x = tensor(c, 'x_init')
      const noise: NoiseSource = { draw: (_stage, k) => row(c, 'noise', k - 1).slice() }
      const branch = (p: string) =>
        Object.fromEntries(
          ['clip_text', 'clip_text_pooled', 'clip_img'].map((n) => [n, tensor(c, `${p}.${n}`)]),
        )
      const steps: number[] = []
      const result = await sampleStage({
        stage: 'c',
        session,
        sampler: gdfDdpm({ shift: s.shift, cfgRho: s.cfgRho }),
        shape: x.dims,
        steps: s.timesteps,
        timesteps: torchLinspace(s.tStart, 0, s.timesteps + 1),
        guidance: s.cfg,
        groups: [x.dims[0] as number],
        cond: branch('cond'),
        uncond: branch('uncond'),
        noise,
        start: Promise.resolve(x.data.slice()),
        onStep: (step) => steps.push(step),
      })
      const err = relErr(result.data, c.get('output').data)
      console.log(`${f} free-running output: ${err.toExponential(2)}`)
      expect(err).toBeLessThan(TOL_RUN)
      expect(steps).toEqual(Array.from({ length: s.timesteps }, (_, i) => i + 1))
    })
  }
})
