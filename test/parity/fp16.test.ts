// The fp16 option keeps LayerNorm, GRN's spatial sum of squares, softmax and the time embedding in
// float32; Stable Cascade overflows fp16 otherwise.
import { readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { globalResponseNorm } from '../../gpu-backend/src/compiler/blocks/global-response-norm.ts'
import { readConfigFile } from '../../gpu-backend/src/compiler/models/config.ts'
import { buildStageC, stageCConfig } from '../../gpu-backend/src/compiler/models/stage-c.ts'
import { Graph } from '../../gpu-backend/src/compiler/onnx/graph.ts'
import { f16ToF32, f32ToF16, toFloat16Bits } from '../../gpu-backend/src/compiler/weights/dtype.ts'
import { SafetensorsFile } from '../../gpu-backend/src/compiler/weights/safetensors.ts'
import { StateDict } from '../../gpu-backend/src/compiler/weights/state-dict.ts'
import { createSession, ort } from '../../gpu-backend/src/runtime/session.ts'
import { goldenPath, readCase, relErr } from './golden.ts'

const half = (data: Float32Array, dims: number[]) => new ort.Tensor('float16', toFloat16Bits(data), dims)
const widen = (t: ort.Tensor) => Float32Array.from(t.data as Uint16Array, f16ToF32)

describe('fp16 graphs', () => {
  it('GRN stays finite where a naive fp16 sum of squares overflows', async () => {
    const [B, H, W, C] = [1, 8, 8, 4]
    const x = Float32Array.from({ length: B * H * W * C }, (_, i) => 150 + (i % 7) * 10)
    const gamma = Float32Array.from([0.5, -0.2, 0.1, 0.3])
    const beta = Float32Array.from([0.1, 0.2, -0.1, 0])
    // Naive fp16: the per-channel sum of squares rounds to fp16 after every add.
    let naive = 0
    for (let h = 0; h < H * W; h++)
      naive = f16ToF32(f32ToF16(naive + f16ToF32(f32ToF16((x[h * C] as number) ** 2))))
    expect(naive).toBe(Number.POSITIVE_INFINITY)

    const g = new Graph('grn', { dtype: 'fp16' })
    const sd = StateDict.fromTensors('grn', {
      'n.gamma': { shape: [1, 1, 1, C], data: gamma },
      'n.beta': { shape: [1, 1, 1, C], data: beta },
    })
    g.output(globalResponseNorm(g, g.input('x', [B, H, W, C]), sd, 'n', C), 'y', [B, H, W, C])
    const s = await createSession(g.serialize())
    const y = widen((await s.run({ x: half(x, [B, H, W, C]) })).y as ort.Tensor)
    expect(y.every(Number.isFinite)).toBe(true)

    // float64 reference of the same block on the fp16-rounded input.
    const xr = Float64Array.from(x, (v) => f16ToF32(f32ToF16(v)))
    const gx = Array.from({ length: C }, (_, c) =>
      Math.sqrt(xr.filter((_, i) => i % C === c).reduce((s, v) => s + v * v, 0)),
    )
    const mean = gx.reduce((a, b) => a + b, 0) / C
    const ref = Float32Array.from(xr, (v, i) => {
      const c = i % C
      return (gamma[c] as number) * v * ((gx[c] as number) / (mean + 1e-6)) + (beta[c] as number) + v
    })
    expect(relErr(y, ref)).toBeLessThan(2e-3)
  })

  it('a tiny Stage C in fp16 stays finite on large inputs and tracks fp32', async () => {
    const sd = StateDict.fromSafetensors([
      SafetensorsFile.open(goldenPath('weights/stage_c_tiny.safetensors')),
    ])
    const cfg = stageCConfig(sd, readConfigFile(goldenPath('configs/stage_c_tiny.json')))
    const [first] = readdirSync(goldenPath('cases')).filter((f) => f.startsWith('stage_c_fwd'))
    const c = readCase(goldenPath('cases', first as string))
    const g16 = buildStageC(sd, cfg, { dtype: 'fp16' })
    const s16 = await createSession(g16.serialize())
    const feeds = Object.fromEntries(
      s16.inputNames.map((n) => {
        const t = c.get(n)
        return [
          n,
          n === 'r'
            ? new ort.Tensor('float32', t.data, t.shape)
            : half(n === 'x' ? t.data.map((v) => v * 300) : t.data, t.shape),
        ]
      }),
    )
    const out = widen((await s16.run(feeds)).eps as ort.Tensor)
    expect(out.every(Number.isFinite)).toBe(true)
    // On the recorded inputs, fp16 tracks the official fp32 output to fp16 precision.
    const plainFeeds = Object.fromEntries(
      s16.inputNames.map((n) => [
        n,
        n === 'r'
          ? new ort.Tensor('float32', c.get(n).data, c.get(n).shape)
          : half(c.get(n).data, c.get(n).shape),
      ]),
    )
    expect(relErr(widen((await s16.run(plainFeeds)).eps as ort.Tensor), c.get('output').data)).toBeLessThan(
      5e-3,
    )
  })
})
