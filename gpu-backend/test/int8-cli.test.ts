// int8 models and `cascade compare` as a user runs them: real processes, real model directories.
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { Manifest } from '../src/compiler/manifest.ts'
import { defaultKeepFp32 } from '../src/compiler/onnx/int8-layers.ts'
import { onnx } from '../src/compiler/onnx/proto.ts'
import type { CompareReport } from '../src/pipeline/compare.ts'

const run = promisify(execFile)
const root = join(import.meta.dirname, '..', '..')
const bin = join(root, 'gpu-backend', 'bin', 'cascade.mjs')
const golden = join(root, 'test', 'golden')
const cascade = (...args: string[]) =>
  run(process.execPath, [bin, ...args], { cwd: root, maxBuffer: 1 << 24 })
const manifestOf = (dir: string) =>
  Manifest.parse(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')))

/** Names of the layers of a written graph whose weights are int8, and of those that are float32. */
function weightTypes(path: string): { int8: string[]; fp32: string[] } {
  const model = onnx.ModelProto.decode(readFileSync(path))
  const names = (suffix: string) =>
    (model.graph?.initializer ?? []).map((t) => t.name as string).filter((n) => n.endsWith(suffix))
  return {
    int8: names('.weight_int8').map((n) => n.slice(0, -'.weight_int8'.length)),
    fp32: names('.weight').map((n) => n.slice(0, -'.weight'.length)),
  }
}

const tiny = async (family: string, ...flags: string[]) => {
  const out = mkdtempSync(join(tmpdir(), `int8-${family}-`))
  await cascade('make-tiny', '--family', family, '--seed', '5', ...flags, '--out', out)
  return out
}

describe('cascade convert / make-tiny --dtype int8', () => {
  it('converts one stage with --keep-fp32 patterns and keeps those layers float32', async () => {
    const out = mkdtempSync(join(tmpdir(), 'int8-conv-'))
    await cascade(
      'convert',
      '--family',
      'stable-cascade',
      '--stage',
      'c',
      '--weights',
      join(golden, 'weights', 'stage_c_tiny.safetensors'),
      '--config',
      join(golden, 'configs', 'stage_c_tiny.json'),
      '--dtype',
      'int8',
      '--keep-fp32',
      '*.channelwise.4',
      '--keep-fp32',
      'stage_c/clf.1',
      '--out',
      out,
    )
    const w = weightTypes(join(out, 'stage_c.onnx'))
    expect(w.int8.some((n) => n.endsWith('.channelwise.0'))).toBe(true)
    expect(w.int8.filter((n) => n.endsWith('.channelwise.4') || n === 'clf.1')).toEqual([])
    expect(w.fp32.filter((n) => n.endsWith('.channelwise.4')).length).toBeGreaterThan(1)
    expect(w.fp32).toContain('clf.1')
  })

  it('make-tiny --dtype int8 records the keep-fp32 list in the manifest, and the model generates', async () => {
    const dir = await tiny('wuerstchen-v2', '--dtype', 'int8', '--keep-fp32', '*.attention.attn.out_proj')
    const m = manifestOf(dir)
    expect(m.dtype).toBe('int8')
    expect(m.keep_fp32).toEqual([...defaultKeepFp32(), '*.attention.attn.out_proj'])
    expect(weightTypes(join(dir, 'stage_c.onnx')).int8.length).toBeGreaterThan(0)
    const png = join(dir, 'out.png')
    await cascade(
      'generate',
      '--model-dir',
      dir,
      '--prompt',
      'a fox',
      '--size',
      '256x256',
      '--seed',
      '1',
      '--prior-steps',
      '2',
      '--decoder-steps',
      '2',
      '--cpu',
      '--out',
      png,
    )
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG')
  })

  it('make-tiny --int8-block 32 writes MatMulNBits layers and records the block in the manifest', async () => {
    const dir = await tiny('stable-cascade', '--dtype', 'int8', '--int8-block', '32')
    expect(manifestOf(dir).int8_block).toBe(32)
    const model = onnx.ModelProto.decode(readFileSync(join(dir, 'stage_b.onnx')))
    const ops = (model.graph?.node ?? []).map((n) => n.opType)
    expect(ops).toContain('MatMulNBits')
    expect(ops).not.toContain('MatMulIntegerToFloat')
  })

  it('refuses --keep-fp32 without --dtype int8, and an unknown dtype', async () => {
    const out = mkdtempSync(join(tmpdir(), 'int8-bad-'))
    await expect(
      cascade('make-tiny', '--family', 'stable-cascade', '--keep-fp32', 'clf.1', '--out', out),
    ).rejects.toMatchObject({
      stderr: expect.stringMatching(/--keep-fp32 belongs to --dtype int8/),
    })
    await expect(
      cascade('make-tiny', '--family', 'stable-cascade', '--dtype', 'int4', '--out', out),
    ).rejects.toMatchObject({
      stderr: expect.stringMatching(/int4.*Allowed choices are fp32, fp16, int8/s),
    })
    expect(readdirSync(out)).toEqual([])
  })
})

describe('cascade compare', () => {
  const prompts = (dir: string) => {
    const p = join(dir, 'prompts.txt')
    writeFileSync(p, 'a red fox\n\na lighthouse at dusk\n')
    return p
  }
  const compare = async (a: string, b: string) => {
    const { stdout } = await cascade(
      'compare',
      '--model-dir',
      a,
      '--model-dir',
      b,
      '--prompts',
      prompts(a),
      '--seeds',
      '3,4',
      '--size',
      '256x256',
      '--prior-steps',
      '3',
      '--decoder-steps',
      '2',
      '--json',
    )
    return JSON.parse(stdout) as CompareReport
  }

  it('fp32 against int8: every graph replays the recorded calls, every image pair is measured', async () => {
    const [fp32, int8] = [await tiny('stable-cascade'), await tiny('stable-cascade', '--dtype', 'int8')]
    const r = await compare(fp32, int8)
    expect(r.models.map((m) => m.dtype)).toEqual(['fp32', 'int8'])
    expect(r.request).toMatchObject({ width: 256, height: 256, priorSteps: 3, decoderSteps: 2 })
    // Stage C: first, middle and last of 3 steps; Stage B: first and last of 2; text encoder and Stage A once.
    expect(Object.fromEntries(r.forwards.map((f) => [f.graph, f.calls]))).toEqual({
      text_encoder: 1,
      stage_c: 3,
      stage_b: 2,
      stage_a_decoder: 1,
    })
    for (const f of r.forwards) {
      expect(f.max).toBeGreaterThan(0)
      expect(f.max).toBeGreaterThanOrEqual(f.mean)
      expect(f.max).toBeLessThan(1)
    }
    expect(r.images.map((i) => [i.prompt, i.seed])).toEqual([
      ['a red fox', 3],
      ['a red fox', 4],
      ['a lighthouse at dusk', 3],
      ['a lighthouse at dusk', 4],
    ])
    for (const i of r.images) {
      expect(i.psnr).toBeGreaterThan(10)
      expect(i.ssim).toBeGreaterThan(0)
      expect(i.ssim).toBeLessThan(1)
      expect(i.latent).toBeGreaterThan(0)
      expect(i.ms.every((t) => t > 0)).toBe(true)
    }
  })

  it('a model against itself: no error anywhere (PSNR null in JSON: infinite)', async () => {
    const dir = await tiny('wuerstchen-v2')
    const r = await compare(dir, dir)
    expect(r.forwards.map((f) => f.graph).sort()).toEqual([
      'stage_a_decoder',
      'stage_b',
      'stage_c',
      'text_encoder',
      'text_encoder_2',
    ])
    expect(r.forwards.every((f) => f.max === 0)).toBe(true)
    expect(r.images.every((i) => i.psnr === null && i.ssim === 1 && i.latent === 0)).toBe(true)
  })

  it('refuses one model directory, and two of different families', async () => {
    const [sc, v2] = [await tiny('stable-cascade'), await tiny('wuerstchen-v2')]
    await expect(cascade('compare', '--model-dir', sc)).rejects.toMatchObject({
      stderr: expect.stringMatching(/--model-dir exactly twice/),
    })
    await expect(
      cascade(
        'compare',
        '--model-dir',
        sc,
        '--model-dir',
        v2,
        '--size',
        '256x256',
        '--prior-steps',
        '1',
        '--decoder-steps',
        '1',
      ),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/is wuerstchen-v2, .* is stable-cascade/) })
  })
})
