// The released Stage B and Stage C checkpoints, as their golden schemas (every key and shape), load key for
// key with no config, in the original and the diffusers layout; a checkpoint that does not fit is refused
// with every offending key named. Tensors are lazy and never read: nothing of the real size is allocated.
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { CascadeLevels } from '../../gpu-backend/src/compiler/models/cascade-unet.ts'
import type { Kwargs } from '../../gpu-backend/src/compiler/models/config.ts'
import { buildStageB, stageBConfig } from '../../gpu-backend/src/compiler/models/stage-b.ts'
import { buildStageC, stageCConfig } from '../../gpu-backend/src/compiler/models/stage-c.ts'
import type { Graph } from '../../gpu-backend/src/compiler/onnx/graph.ts'
import { toOriginalNames } from '../../gpu-backend/src/compiler/stages.ts'
import { type LazyTensor, StateDict } from '../../gpu-backend/src/compiler/weights/state-dict.ts'
import { goldenPath } from './golden.ts'

interface Schema {
  model: string
  constructor_kwargs: Kwargs
  tensors: { name: string; shape: number[] }[]
}

interface Model {
  build(sd: StateDict): { config: CascadeLevels; graph: Graph }
  /** The official constructor's defaults (models.md 3.1, 4.1); a schema's constructor_kwargs override them. */
  defaults: Kwargs
}

const MODELS: Record<string, Model> = {
  StageB: {
    build(sd) {
      const config = stageBConfig(sd)
      return { config, graph: buildStageB(sd, config) }
    },
    defaults: {
      c_in: 4,
      c_out: 4,
      c_r: 64,
      patch_size: 2,
      c_cond: 1280,
      c_hidden: [320, 640, 1280, 1280],
      nhead: [-1, -1, 20, 20],
      blocks: [
        [2, 6, 28, 6],
        [6, 28, 6, 2],
      ],
      block_repeat: [
        [1, 1, 1, 1],
        [3, 3, 2, 2],
      ],
      level_config: ['CT', 'CT', 'CTA', 'CTA'],
      c_clip: 1280,
      c_clip_seq: 4,
      c_effnet: 16,
      c_pixels: 3,
      t_conds: ['sca'],
    },
  },
  StageC: {
    build(sd) {
      const config = stageCConfig(sd)
      return { config, graph: buildStageC(sd, config) }
    },
    defaults: {
      c_in: 16,
      c_out: 16,
      c_r: 64,
      patch_size: 1,
      c_cond: 2048,
      c_hidden: [2048, 2048],
      nhead: [32, 32],
      blocks: [
        [8, 24],
        [24, 8],
      ],
      block_repeat: [
        [1, 1],
        [1, 1],
      ],
      level_config: ['CTA', 'CTA'],
      c_clip_text: 1280,
      c_clip_text_pooled: 1280,
      c_clip_img: 768,
      c_clip_seq: 4,
      t_conds: ['sca', 'crp'],
    },
  },
}

const schemas = readdirSync(goldenPath('schemas'))
  .filter((f) => /^stage_[bc]_.*\.json$/.test(f))
  .map((f) => ({ file: f, schema: JSON.parse(readFileSync(goldenPath('schemas', f), 'utf8')) as Schema }))

let reads = 0
/** A zero tensor of the schema's shape; reading it (which only writing a model does) is counted. */
function lazyZeros(shape: number[]): LazyTensor {
  return {
    shape,
    dtype: 'BF16',
    read: () => {
      reads++
      return new Float32Array(shape.reduce((a, b) => a * b, 1))
    },
  }
}

function checkpoint(tensors: [string, number[]][], source: string): StateDict {
  const sd = new StateDict(source, new Map(tensors.map(([k, s]) => [k, lazyZeros(s)])))
  toOriginalNames(sd)
  return sd
}

const original = (s: Schema): [string, number[]][] => s.tensors.map((t) => [t.name, t.shape])

/** The diffusers names of an original key: q/k/v split out of in_proj, out_proj as to_out.0, Stage B's clip_mapper. */
function diffusers(s: Schema): [string, number[]][] {
  return original(s).flatMap(([name, shape]): [string, number[]][] => {
    const inProj = /^(.*\.attention)\.attn\.in_proj_(weight|bias)$/.exec(name)
    if (inProj) {
      const third = [(shape[0] as number) / 3, ...shape.slice(1)]
      return ['q', 'k', 'v'].map((p) => [`${inProj[1]}.to_${p}.${inProj[2]}`, third])
    }
    const renamed = name
      .replace(/\.attention\.attn\.out_proj\./, '.attention.to_out.0.')
      .replace(s.model === 'StageB' ? /^clip_mapper\./ : /^$/, 'clip_txt_pooled_mapper.')
    return [[renamed, shape]]
  })
}

/** Block entries the graph executes: down levels once each, up levels `block_repeat` times. */
function executedBlocks(c: CascadeLevels): number {
  const n = c.cHidden.length
  const len = (level: number) => (c.levelConfig[level] as string).length
  const down = c.blocks[0].reduce((s, b, i) => s + b * len(i) * (c.blockRepeat[0][i] as number), 0)
  const up = c.blocks[1].reduce((s, b, u) => s + b * len(n - 1 - u) * (c.blockRepeat[1][u] as number), 0)
  return down + up
}

const camel = (k: string) => k.replace(/_(\w)/g, (_, ch: string) => ch.toUpperCase())

describe('released checkpoint schemas', () => {
  it('finds the Stage B and Stage C schemas', () => {
    expect(schemas.map((s) => s.schema.model).sort()).toEqual(expect.arrayContaining(['StageB', 'StageC']))
  })

  for (const { file, schema } of schemas) {
    const model = MODELS[schema.model]
    if (!model) throw new Error(`${file}: no builder for ${schema.model}`)

    it(`${file}: detected with no config, built key for key, nothing read`, () => {
      reads = 0
      const { config, graph } = model.build(checkpoint(original(schema), file))
      expect(reads).toBe(0)
      const released = { ...model.defaults, ...schema.constructor_kwargs }
      for (const [k, v] of Object.entries(released)) {
        // Heads only matter where a level attends (lite Stage B lists 9 heads for a level without attention).
        const got =
          k === 'nhead'
            ? config.nhead.filter((_, i) => config.levelConfig[i]?.includes('A'))
            : (config as unknown as Record<string, unknown>)[camel(k)]
        const want =
          k === 'nhead' ? (v as number[]).filter((_, i) => config.levelConfig[i]?.includes('A')) : v
        expect(got, `${file} ${k}`).toEqual(want)
      }
      // An executed block is about 19 nodes (ResBlock, TimestepBlock, AttnBlock alike).
      const blocks = executedBlocks(config)
      console.log(
        `${file}: ${schema.tensors.length} tensors, ${blocks} executed blocks, ${graph.nodeCount} nodes`,
      )
      expect(graph.nodeCount).toBeGreaterThan(10 * blocks)
      expect(graph.nodeCount).toBeLessThan(30 * blocks)
    })

    it(`${file}: accepted in the diffusers layout`, () => {
      reads = 0
      const names = diffusers(schema).map(([k]) => k)
      expect(names.some((k) => k.includes('.to_q.'))).toBe(true)
      const { config } = model.build(checkpoint(diffusers(schema), `${file} (diffusers)`))
      expect(reads).toBe(0)
      expect(config).toEqual(model.build(checkpoint(original(schema), file)).config)
    })

    it(`${file}: a missing, an extra and a misshapen key are all named`, () => {
      const tensors = original(schema)
      // Keys in the middle of the network whose every axis is checked, so the detected architecture stays.
      const middle = (suffix: string) => {
        const keys = tensors.filter(([k]) => k.endsWith(suffix))
        return keys[Math.floor(keys.length / 2)] as [string, number[]]
      }
      const [missing] = middle('.channelwise.4.weight')
      const [misshapen, shape] = middle('.mapper.bias')
      const broken = tensors
        .filter(([k]) => k !== missing)
        .map(([k, s]): [string, number[]] => [k, k === misshapen ? [(shape[0] as number) + 1] : s])
      broken.push(['stray.weight', [3]])
      const error = (() => {
        try {
          model.build(checkpoint(broken, `${file} (broken)`))
        } catch (e) {
          return (e as Error).message
        }
      })()
      expect(error).toContain(`missing ${missing}`)
      expect(error).toContain(`wrong shape for ${misshapen}`)
      expect(error).toContain('unexpected stray.weight')
    })
  }
})
