// The Würstchen v2 prior and decoder checkpoints, as their golden schemas (every key and shape), load key for
// key: the released ones with no config (their configuration is detected), the tiny ones with theirs, in
// the diffusers and the original (packed in_proj attention) layouts. A checkpoint that does not fit is
// refused with every offending key named. Tensors are lazy and never read: nothing is allocated.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Kwargs } from '../../gpu-backend/src/compiler/models/config.ts'
import {
  buildWuerstchenDiffNeXt,
  wuerstchenDiffNeXtConfig,
} from '../../gpu-backend/src/compiler/models/wuerstchen-diffnext.ts'
import {
  buildWuerstchenPrior,
  wuerstchenPriorConfig,
} from '../../gpu-backend/src/compiler/models/wuerstchen-prior.ts'
import { toOriginalNames } from '../../gpu-backend/src/compiler/stages.ts'
import { type LazyTensor, StateDict } from '../../gpu-backend/src/compiler/weights/state-dict.ts'
import { V2_DIR } from './golden.ts'

interface Schema {
  class: string
  config: Kwargs
  keys: { key: string; shape: number[] }[]
}

/** Builds the graph (not serialized) and returns the resolved config as constructor kwargs. */
type Build = (sd: StateDict, kwargs: Kwargs | undefined) => Kwargs

const MODELS: Record<string, Build> = {
  WuerstchenPrior(sd, kwargs) {
    const cfg = wuerstchenPriorConfig(sd, kwargs)
    buildWuerstchenPrior(sd, cfg)
    return { c_in: cfg.cIn, c: cfg.c, c_cond: cfg.cCond, c_r: cfg.cR, depth: cfg.depth, nhead: cfg.nhead }
  },
  WuerstchenDiffNeXt(sd, kwargs) {
    const cfg = wuerstchenDiffNeXtConfig(sd, kwargs)
    buildWuerstchenDiffNeXt(sd, cfg)
    // kernel_size is not a config entry: the ResBlocks read it off their depthwise weights.
    return {
      c_in: cfg.cIn,
      c_out: cfg.cOut,
      c_r: cfg.cR,
      patch_size: cfg.patchSize,
      c_cond: cfg.cCond,
      c_hidden: cfg.cHidden,
      nhead: cfg.nhead,
      blocks: cfg.blocks,
      level_config: cfg.levelConfig,
      inject_effnet: cfg.injectEffnet,
      effnet_embd: cfg.effnetEmbd,
      clip_embd: cfg.clipEmbd,
    }
  },
}

const schemas = readdirSync(join(V2_DIR, 'schemas'))
  .filter((f) => /^(prior|decoder)_.*\.json$/.test(f))
  .map((f) => ({ file: f, schema: JSON.parse(readFileSync(join(V2_DIR, 'schemas', f), 'utf8')) as Schema }))

let reads = 0
/** A zero tensor of the schema's shape; reading it (which only writing a model does) is counted. */
function lazyZeros(shape: number[]): LazyTensor {
  return {
    shape,
    dtype: 'F32',
    read: () => {
      reads++
      return new Float32Array(shape.reduce((a, b) => a * b, 1))
    },
  }
}

type Keys = [string, number[]][]

function checkpoint(keys: Keys, source: string): StateDict {
  const sd = new StateDict(source, new Map(keys.map(([k, s]) => [k, lazyZeros(s)])))
  toOriginalNames(sd)
  return sd
}

const diffusers = (s: Schema): Keys => s.keys.map((k) => [k.key, k.shape])

/** The original names: q/k/v packed into nn.MultiheadAttention's in_proj_*, to_out.0 as out_proj. */
function original(s: Schema): Keys {
  return diffusers(s).flatMap(([name, shape]): Keys => {
    const qkv = /^(.*\.attention)\.to_([qkv])\.(weight|bias)$/.exec(name)
    if (qkv)
      return qkv[2] === 'q'
        ? [[`${qkv[1]}.attn.in_proj_${qkv[3]}`, [(shape[0] as number) * 3, ...shape.slice(1)]]]
        : []
    return [[name.replace(/\.attention\.to_out\.0\./, '.attention.attn.out_proj.'), shape]]
  })
}

/** The schema's constructor kwargs that the converter resolves (dropout is inactive at inference). */
const expected = (s: Schema, got: Kwargs) => Object.fromEntries(Object.keys(got).map((k) => [k, s.config[k]]))

describe('Würstchen v2 checkpoint schemas', () => {
  it('finds prior and decoder schemas', () => {
    for (const c of Object.keys(MODELS)) expect(schemas.some((s) => s.schema.class === c)).toBe(true)
  })
  for (const { file, schema } of schemas) {
    const build = MODELS[schema.class]
    if (!build) continue
    const released = file.includes('_real')
    // Released checkpoints need no config; other sizes are refused without one (their heads are unknown).
    const kwargs = released ? undefined : schema.config
    for (const [layout, keys] of [
      ['diffusers', diffusers(schema)],
      ['original', original(schema)],
    ] as const)
      it(`${file} loads key for key (${layout} layout${released ? ', no config' : ''})`, () => {
        const before = reads
        const resolved = build(checkpoint(keys, `${file} ${layout}`), kwargs)
        expect(resolved).toEqual(expected(schema, resolved))
        expect(reads).toBe(before)
      })
    if (!released)
      it(`${file} without a config is refused`, () => {
        expect(() => build(checkpoint(diffusers(schema), file), undefined)).toThrow(/not a released variant/)
      })
    it(`${file}: a checkpoint with a missing, an extra and a misshapen key is refused naming each`, () => {
      const keys = diffusers(schema)
      const missing = keys.find(([k]) => k.endsWith('.channelwise.2.gamma'))?.[0] as string
      // The last time mapper: the first one is where the sizes are read from.
      const misshapen = keys.findLast(([k]) => k.endsWith('.mapper.weight'))?.[0] as string
      const corrupt: Keys = keys
        .filter(([k]) => k !== missing)
        .map(([k, s]) => [k, k === misshapen ? [s[0] as number, (s[1] as number) + 1] : s])
      corrupt.push(['extra_module.weight', [3]])
      const attempt = () => build(checkpoint(corrupt, file), kwargs)
      expect(attempt).toThrow(new RegExp(`missing ${missing.replaceAll('.', '\\.')} `))
      expect(attempt).toThrow(new RegExp(`wrong shape for ${misshapen.replaceAll('.', '\\.')}:`))
      expect(attempt).toThrow(/unexpected extra_module\.weight/)
    })
  }
})
