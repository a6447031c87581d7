// Samplers against the references, one step at a time from recorded inputs:
// - diffusers DDPMWuerstchenScheduler (wuerstchen-v2/scheduler.safetensors, sampling_*.safetensors),
// - the official Stable Cascade GDF sampler (sampling/pipeline.safetensors, settings from configs/sampling.json).
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  alphaCumprod,
  DEFAULT_STAGE_C_TIMESTEPS,
  ddpmWuerstchen,
} from '../../gpu-backend/src/samplers/ddpm-wuerstchen.ts'
import { torchLinspace } from '../../gpu-backend/src/samplers/float32.ts'
import { cosineTNoiseCond, gdfDdpm, logSnr, vpScale } from '../../gpu-backend/src/samplers/gdf-ddpm.ts'
import { goldenPath, readCase, relErr, V2_DIR, v2RunInfo } from './golden.ts'

// READMEs: scheduler steps 1e-5 (v2), sampler steps from recorded inputs 1e-4 (SC; we hold 1e-5).
const TOL_V2 = 1e-5
const TOL_SC = 1e-5
const TOL_SCHEDULE = 1e-6

type Case = ReturnType<typeof readCase>

/** Row i of a stacked (T, ...) tensor. */
function row(c: Case, name: string, i: number): Float32Array {
  const t = c.get(name)
  const n = t.data.length / (t.shape[0] as number)
  return t.data.subarray(i * n, (i + 1) * n)
}

const scalar = (c: Case, name: string) => c.get(name).data[0] as number

describe('DDPMWuerstchenScheduler (diffusers)', () => {
  const sched = readCase(join(V2_DIR, 'scheduler.safetensors'))
  const names = [...sched.file.tensors.keys()]

  it('ᾱ(t) on the recorded grid', () => {
    const t = sched.get('t_grid').data
    const got = Float32Array.from(t, alphaCumprod)
    const err = relErr(got, sched.get('alpha_cumprod').data)
    console.log(`alpha_cumprod: ${err.toExponential(2)}`)
    expect(err).toBeLessThan(TOL_SCHEDULE)
  })

  const schedules = names.filter((n) => n.endsWith('.timesteps')).map((n) => n.slice(0, -'.timesteps'.length))
  it('finds schedules', () => expect(schedules.length).toBeGreaterThan(0))
  for (const s of schedules) {
    const ref = sched.get(`${s}.timesteps`).data
    it(`${s}: timesteps`, () => {
      const sampler = ddpmWuerstchen({ preset: DEFAULT_STAGE_C_TIMESTEPS })
      // The preset answers for its own step count; any other count is the uniform linspace.
      const got = s.startsWith('default_stage_c')
        ? DEFAULT_STAGE_C_TIMESTEPS
        : ddpmWuerstchen().timesteps(ref.length - 1)
      expect(Array.from(got)).toEqual(Array.from(ref))
      expect(Array.from(sampler.timesteps(ref.length - 1))).toEqual(Array.from(ref))
    })
    const steps = names
      .map((n) => new RegExp(`^${s}\\.step(\\d+)\\.prev_sample$`).exec(n)?.[1])
      .filter((j) => j !== undefined)
    it(`${s}: has recorded steps`, () => expect(steps.length).toBeGreaterThan(0))
    for (const j of steps)
      it(`${s}: step ${j}`, () => {
        const p = `${s}.step${j}`
        const t = scalar(sched, `${p}.t`)
        const tPrev = scalar(sched, `${p}.t_prev`)
        expect(tPrev).toBe(ref[ref.indexOf(t) + 1])
        const out = ddpmWuerstchen().step(
          sched.get(`${p}.model_output`).data,
          t,
          tPrev,
          sched.get(`${p}.sample`).data,
          sched.get(`${p}.noise`).data,
        )
        const err = relErr(out.x, sched.get(`${p}.prev_sample`).data)
        console.log(`${p}: ${err.toExponential(2)}`)
        expect(err).toBeLessThan(TOL_V2)
      })
  }
})

describe('Würstchen v2 sampling runs, one step at a time', () => {
  const runs = readdirSync(V2_DIR).filter((f) => /^sampling_.*\.safetensors$/.test(f))
  it('finds runs', () => expect(runs.length).toBeGreaterThan(0))
  for (const f of runs)
    it(f, () => {
      const c = readCase(join(V2_DIR, f))
      const timesteps = c.get('timesteps').data
      const sampler = ddpmWuerstchen()
      // An explicit `timesteps=` list is run as given (float32); without one the sampler's linspace.
      const explicit = v2RunInfo(f).pipeline_call.timesteps
      const schedule = explicit ? Float32Array.from(explicit) : sampler.timesteps(timesteps.length - 1)
      expect(Array.from(schedule)).toEqual(Array.from(timesteps))
      let x = c.get('initial_noise').data
      for (let i = 0; i < timesteps.length - 1; i++) {
        const p = `step${i}`
        const t = timesteps[i] as number
        expect(Array.from(c.get(`${p}.model_r`).data).every((r) => r === sampler.modelInput(t))).toBe(true)
        // Guidance from the recorded model outputs, when the run used it ([cond, uncond] halves).
        const out = c.get(`${p}.model_out`).data
        const guided = c.get(`${p}.guided`).data
        if (out.length === 2 * guided.length) {
          const w = v2RunInfo(f).pipeline_call.guidance_scale
          const got = sampler.guide(out.subarray(0, guided.length), out.subarray(guided.length), w)
          expect(relErr(got, guided)).toBeLessThan(TOL_V2)
        }
        const next = sampler.step(guided, t, timesteps[i + 1] as number, x, c.get(`${p}.noise`).data)
        const err = relErr(next.x, c.get(`${p}.latents`).data)
        console.log(`${f} ${p}: ${err.toExponential(2)}`)
        expect(err).toBeLessThan(TOL_V2)
        x = c.get(`${p}.latents`).data
      }
    })
})

/** The guidance scale of a v2 run (README "Full tiny sampling run"): prior 4, decoder CFG run 2. */

interface StageSettings {
  cfg: number
  shift: number
  timesteps: number
  cfg_rho: number
  t_start?: number
  t_end?: number
}

/** gdf.sample's r_range: linspace(t_start, t_end, timesteps + 1) in float32 (the sampler's own schedule from 1 to 0). */
function gdfSchedule(cfg: StageSettings): Float32Array {
  return torchLinspace(cfg.t_start ?? 1, cfg.t_end ?? 0, cfg.timesteps + 1)
}

describe('Stable Cascade GDF sampler (official)', () => {
  const settings = JSON.parse(readFileSync(goldenPath('configs', 'sampling.json'), 'utf8')) as Record<
    string,
    StageSettings
  >
  const c = readCase(goldenPath('sampling', 'pipeline.safetensors'))
  for (const [stage, prefix] of [
    ['stage_c', 'c'],
    ['stage_b', 'b'],
  ] as const) {
    const cfg = settings[stage] as StageSettings
    const sampler = gdfDdpm({ shift: cfg.shift, cfgRho: cfg.cfg_rho })

    it(`${stage}: schedule tables (t, logSNR, a, b, r)`, () => {
      const t = gdfSchedule(cfg)
      expect(Array.from(t)).toEqual(Array.from(c.get(`${prefix}.t`).data))
      if ((cfg.t_start ?? 1) === 1 && (cfg.t_end ?? 0) === 0)
        expect(Array.from(sampler.timesteps(cfg.timesteps))).toEqual(Array.from(t))
      const l = Float32Array.from(t, (ti) => logSnr(ti, cfg.shift))
      const errs = {
        logsnr: relErr(l, c.get(`${prefix}.logsnr`).data),
        a: relErr(
          Float32Array.from(l, (li) => vpScale(li).a),
          c.get(`${prefix}.a`).data,
        ),
        b: relErr(
          Float32Array.from(l, (li) => vpScale(li).b),
          c.get(`${prefix}.b`).data,
        ),
        r: relErr(
          Float32Array.from(t.subarray(0, -1), (ti) => sampler.modelInput(ti)),
          c.get(`${prefix}.r_model`).data,
        ),
      }
      console.log(
        `${stage} schedule:`,
        Object.entries(errs)
          .map(([k, v]) => `${k} ${v.toExponential(2)}`)
          .join(', '),
      )
      for (const v of Object.values(errs)) expect(v).toBeLessThan(TOL_SCHEDULE)
      // The recorded r is float32 torch; ours must match it to about one ulp (the time embedding amplifies r).
      expect(errs.r).toBeLessThan(2e-7)
      expect(cosineTNoiseCond(l[0] as number)).toBe(sampler.modelInput(t[0] as number))
    })

    it(`${stage}: every step from recorded inputs (pred, x0, x)`, () => {
      const t = gdfSchedule(cfg)
      let worst = { pred: 0, x0: 0, x: 0 }
      for (let i = 0; i < cfg.timesteps; i++) {
        const pred = sampler.guide(
          row(c, `${prefix}.pred_cond`, i),
          row(c, `${prefix}.pred_uncond`, i),
          cfg.cfg,
        )
        const refPred = row(c, `${prefix}.pred`, i)
        const out = sampler.step(
          refPred,
          t[i] as number,
          t[i + 1] as number,
          row(c, `${prefix}.x`, i),
          row(c, `${prefix}.noise`, i),
        )
        worst = {
          pred: Math.max(worst.pred, relErr(pred, refPred)),
          x0: Math.max(worst.x0, relErr(out.output, row(c, `${prefix}.x0`, i))),
          x: Math.max(worst.x, relErr(out.x, row(c, `${prefix}.x`, i + 1))),
        }
      }
      console.log(
        `${stage} steps:`,
        Object.entries(worst)
          .map(([k, v]) => `${k} ${v.toExponential(2)}`)
          .join(', '),
      )
      for (const v of Object.values(worst)) expect(v).toBeLessThan(TOL_SC)
      expect(row(c, `${prefix}.x0`, cfg.timesteps - 1)).toEqual(c.get(`${prefix}.output`).data)
    })
  }
})
