// The released Stage A checkpoints (SC stage_a.safetensors, v2 vqgan/) load key for key with no config, and a
// corrupt checkpoint is refused with every problem named, by the graph whose half of the keys it concerns.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { FAMILY_SETTINGS, type Family } from '../../gpu-backend/src/compiler/manifest.ts'
import {
  buildStageADecoder,
  buildStageAEncoder,
  type StageAConfig,
  stageAConfig,
} from '../../gpu-backend/src/compiler/models/stage-a.ts'
import { isDtype } from '../../gpu-backend/src/compiler/weights/dtype.ts'
import { type LazyTensor, StateDict } from '../../gpu-backend/src/compiler/weights/state-dict.ts'
import { goldenPath, V2_DIR } from './golden.ts'

interface SchemaEntry {
  key: string
  shape: number[]
  dtype: string
}

// SC schemas list `tensors` {name, shape, torch_dtype}; the v2 ones `keys` {key, shape, dtype}.
interface SchemaFile {
  tensors?: { name: string; shape: number[]; torch_dtype: string }[]
  keys?: { key: string; shape: number[]; dtype: string }[]
  config?: Record<string, unknown>
}

const SAFETENSORS_DTYPE: Record<string, string> = { float32: 'F32', int64: 'I64' }

function readSchema(path: string): SchemaEntry[] {
  const s = JSON.parse(readFileSync(path, 'utf8')) as SchemaFile
  const entries =
    s.tensors?.map((t) => ({ key: t.name, shape: t.shape, dtype: t.torch_dtype })) ?? s.keys ?? []
  return entries.map((e) => ({ ...e, dtype: SAFETENSORS_DTYPE[e.dtype] ?? e.dtype }))
}

/** Zero-filled lazy tensors with the schema's names, shapes and dtypes. */
function lazyCheckpoint(name: string, entries: SchemaEntry[]): StateDict {
  const map = new Map<string, LazyTensor>()
  for (const e of entries) {
    if (!isDtype(e.dtype)) throw new Error(`${e.key}: dtype ${e.dtype}`)
    map.set(e.key, {
      shape: e.shape,
      dtype: e.dtype,
      read: () => new Float32Array(e.shape.reduce((a, b) => a * b, 1)),
    })
  }
  return new StateDict(name, map)
}

const released: { family: Family; path: string }[] = [
  { family: 'stable-cascade', path: goldenPath('schemas/stage_a.json') },
  { family: 'wuerstchen-v2', path: `${V2_DIR}/schemas/vqgan_real.json` },
]

function errorOf(build: () => unknown): string {
  try {
    build()
  } catch (e) {
    return (e as Error).message
  }
  return ''
}

describe('Stage A released schemas', () => {
  const configs: StageAConfig[] = []
  for (const { family, path } of released)
    it(`${family}: ${path.split('/').slice(-2).join('/')} builds both graphs with no config`, () => {
      const sd = lazyCheckpoint(path, readSchema(path))
      const cfg = stageAConfig(sd, family)
      expect(cfg.scaleFactor).toBe(FAMILY_SETTINGS[family].stage_a_scale)
      expect(() => buildStageADecoder(sd, cfg)).not.toThrow()
      expect(() => buildStageAEncoder(sd, cfg)).not.toThrow()
      configs.push(cfg)
    })

  it('finds the same network in both releases, as the v2 schema config states it', () => {
    const v2 = JSON.parse(readFileSync(`${V2_DIR}/schemas/vqgan_real.json`, 'utf8')) as SchemaFile
    const c = v2.config ?? {}
    const expected = {
      levels: c.levels,
      bottleneckBlocks: c.bottleneck_blocks,
      cHidden: c.embed_dim,
      cLatent: c.latent_channels,
      shuffle: c.up_down_scale_factor,
    }
    expect(configs).toHaveLength(released.length)
    for (const cfg of configs)
      expect({ ...cfg, scaleFactor: undefined }).toEqual({ ...expected, scaleFactor: undefined })
  })
})

describe('Stage A scale factor', () => {
  const sd = lazyCheckpoint('sc', readSchema(released[0]?.path as string))
  it("keeps Stable Cascade's 0.43 under diffusers' vqgan/config.json, which inherits v2's 0.3764", () => {
    const df = { _class_name: 'PaellaVQModel', scale_factor: 0.3764 }
    expect(stageAConfig(sd, 'stable-cascade', df).scaleFactor).toBe(
      FAMILY_SETTINGS['stable-cascade'].stage_a_scale,
    )
    expect(stageAConfig(sd, 'wuerstchen-v2', df).scaleFactor).toBe(0.3764)
  })
  it("takes an official StageA config's scale_factor", () => {
    expect(stageAConfig(sd, 'stable-cascade', { scale_factor: 0.5 }).scaleFactor).toBe(0.5)
  })
})

describe('Stage A corrupt checkpoints', () => {
  for (const { family, path } of released) {
    const entries = readSchema(path)
    const find = (re: RegExp) => entries.find((e) => re.test(e.key))?.key as string
    const missingDec = find(/^up_blocks\.\d+\.channelwise\.2\.bias$/)
    const missingEnc = find(/^down_blocks\.\d+\.1\.running_var$/)
    const misshapenDec = find(/^out_block\.0\.bias$/)
    const misshapenEnc = find(/^down_blocks\.\d+\.weight$/)
    const extraDec = 'up_blocks.1.extra.weight'
    const extraEnc = 'down_blocks.0.extra.weight'
    const stray = 'stray.weight'

    const corrupt = () => {
      const bad = entries
        .filter((e) => e.key !== missingDec && e.key !== missingEnc)
        .map((e) =>
          e.key === misshapenDec || e.key === misshapenEnc
            ? { ...e, shape: [...e.shape.slice(0, -1), 3] }
            : e,
        )
      for (const key of [extraDec, extraEnc, stray]) bad.push({ key, shape: [2], dtype: 'F32' })
      const sd = lazyCheckpoint('corrupt.safetensors', bad)
      return { sd, cfg: stageAConfig(sd, family) }
    }

    it(`${family}: the decoder names each problem of its keys`, () => {
      const { sd, cfg } = corrupt()
      const msg = errorOf(() => buildStageADecoder(sd, cfg))
      for (const s of [
        `missing ${missingDec} `,
        `wrong shape for ${misshapenDec}:`,
        `unexpected ${extraDec}`,
        `unexpected ${stray}`,
      ])
        expect(msg).toContain(s)
      for (const k of [missingEnc, misshapenEnc, extraEnc]) expect(msg).not.toContain(k)
    })

    it(`${family}: the encoder names each problem of its keys`, () => {
      const { sd, cfg } = corrupt()
      const msg = errorOf(() => buildStageAEncoder(sd, cfg))
      for (const s of [
        `missing ${missingEnc} `,
        `wrong shape for ${misshapenEnc}:`,
        `unexpected ${extraEnc}`,
        `unexpected ${stray}`,
      ])
        expect(msg).toContain(s)
      for (const k of [missingDec, misshapenDec, extraDec]) expect(msg).not.toContain(k)
    })
  }
})
