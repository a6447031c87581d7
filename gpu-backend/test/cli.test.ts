// The `cascade` CLI as a user runs it: a real process, real files, real onnxruntime sessions.
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { sha256File } from '../src/compiler/convert.ts'
import { Manifest } from '../src/compiler/manifest.ts'
import { createSession, ort } from '../src/runtime/session.ts'
import { ClipTokenizer } from '../src/text/tokenizer.ts'

const run = promisify(execFile)
const root = join(import.meta.dirname, '..', '..')
const bin = join(root, 'gpu-backend', 'bin', 'cascade.mjs')
const golden = join(root, 'test', 'golden')
const cascade = (...args: string[]) => run(process.execPath, [bin, ...args], { cwd: root })

describe('cascade make-tiny', () => {
  for (const family of ['stable-cascade', 'wuerstchen-v2'])
    it(`writes a complete ${family} model directory that loads`, async () => {
      const out = mkdtempSync(join(tmpdir(), `tiny-${family}-`))
      await cascade('make-tiny', '--family', family, '--seed', '7', '--out', out)
      const manifest = Manifest.parse(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')))
      expect(manifest.family).toBe(family)
      const text = family === 'wuerstchen-v2' ? ['text_encoder', 'text_encoder_2'] : ['text_encoder']
      expect(Object.keys(manifest.graphs).sort()).toEqual(
        ['stage_a_decoder', 'stage_a_encoder', 'stage_b', 'stage_c', ...text].sort(),
      )
      // Every text encoder comes with its tokenizer, and the tokenizer's ids fit the encoder's vocabulary.
      for (const name of text) {
        const dir = manifest.graphs[name]?.tokenizer as string
        const tok = ClipTokenizer.fromFiles(join(out, dir))
        const ids = tok.encode('A photo of a cat')
        const session = await createSession(join(out, `${name}.onnx`))
        const res = await session.run({
          input_ids: new ort.Tensor('int64', ids.inputIds, [1, 77]),
          attention_mask: new ort.Tensor('int64', ids.attentionMask, [1, 77]),
        })
        expect((res.last_hidden_state as ort.Tensor).data.every(Number.isFinite)).toBe(true)
      }
      for (const f of manifest.files) expect(await sha256File(join(out, f.path))).toBe(f.sha256)
      const c = await createSession(join(out, 'stage_c.onnx'))
      expect(c.outputNames).toEqual(['eps'])
      const a = await createSession(join(out, 'stage_a_decoder.onnx'))
      expect(a.inputNames).toEqual(['latent'])
      expect(a.outputNames).toEqual(['image'])
      // Same seed, same weights.
      const again = mkdtempSync(join(tmpdir(), `tiny-${family}-`))
      await cascade('make-tiny', '--family', family, '--seed', '7', '--out', again)
      const m2 = Manifest.parse(JSON.parse(readFileSync(join(again, 'manifest.json'), 'utf8')))
      expect(m2.weights_version).toBe(manifest.weights_version)
    })
})

describe('cascade convert', () => {
  it('converts one stage with --config and --extra-inputs', async () => {
    const out = mkdtempSync(join(tmpdir(), 'conv-'))
    const { stdout } = await cascade(
      'convert',
      '--family',
      'stable-cascade',
      '--stage',
      'c',
      '--weights',
      join(golden, 'weights', 'stage_c_tiny.safetensors'),
      '--config',
      join(golden, 'configs', 'stage_c_tiny.json'),
      '--extra-inputs',
      '--out',
      out,
    )
    expect(stdout).toContain('stage_c.onnx')
    const s = await createSession(join(out, 'stage_c.onnx'))
    expect(s.inputNames).toEqual(['x', 'r', 'clip_text', 'clip_text_pooled', 'clip_img', 'sca', 'crp'])
  })

  it('refuses a non-released checkpoint without a config', async () => {
    const out = mkdtempSync(join(tmpdir(), 'conv-'))
    await expect(
      cascade(
        'convert',
        '--family',
        'stable-cascade',
        '--stage',
        'c',
        '--weights',
        join(golden, 'weights', 'stage_c_tiny.safetensors'),
        '--out',
        out,
      ),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/not a released variant.*--config/) })
  })

  it('refuses a corrupt checkpoint naming the file and the tensor', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corrupt-'))
    const p = join(dir, 'stage_c.safetensors')
    const bytes = readFileSync(join(golden, 'weights', 'stage_c_tiny.safetensors'))
    writeFileSync(p, bytes.subarray(0, bytes.length - 100))
    await expect(
      cascade(
        'convert',
        '--family',
        'stable-cascade',
        '--stage',
        'c',
        '--weights',
        p,
        '--config',
        join(golden, 'configs', 'stage_c_tiny.json'),
        '--out',
        dir,
      ),
    ).rejects.toMatchObject({
      stderr: expect.stringMatching(/stage_c\.safetensors: tensor \S+: data ends at byte/),
    })
    expect(existsSync(join(dir, 'stage_c.onnx'))).toBe(false)
  })

  it('converts a whole model from a folder of official files and writes the manifest', async () => {
    const from = mkdtempSync(join(tmpdir(), 'official-'))
    copyFileSync(join(golden, 'weights', 'stage_c_tiny.safetensors'), join(from, 'stage_c.safetensors'))
    copyFileSync(join(golden, 'configs', 'stage_c_tiny.json'), join(from, 'stage_c.json'))
    copyFileSync(join(golden, 'weights', 'stage_b_tiny.safetensors'), join(from, 'stage_b.safetensors'))
    copyFileSync(join(golden, 'configs', 'stage_b_tiny.json'), join(from, 'stage_b.json'))
    copyFileSync(join(golden, 'weights', 'stage_a_tiny.safetensors'), join(from, 'stage_a.safetensors'))
    copyFileSync(
      join(golden, 'weights', 'clip_text_tiny.safetensors'),
      join(from, 'text_encoder.safetensors'),
    )
    copyFileSync(join(golden, 'configs', 'clip_text_tiny.json'), join(from, 'text_encoder.json'))
    mkdirSync(join(from, 'tokenizer'))
    for (const f of ['vocab.json', 'merges.txt'])
      copyFileSync(join(golden, 'tokenizer', f), join(from, 'tokenizer', f))
    copyFileSync(join(golden, 'configs', 'stage_a_tiny.json'), join(from, 'stage_a.json'))
    const out = mkdtempSync(join(tmpdir(), 'model-'))
    await cascade('convert', '--family', 'stable-cascade', '--from', from, '--out', out)
    const m = Manifest.parse(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')))
    expect(m.settings.stage_a_scale).toBe(0.43)
    expect(m.files.map((f) => f.path).sort()).toEqual([
      'stage_a_decoder.onnx',
      'stage_a_encoder.onnx',
      'stage_b.onnx',
      'stage_c.onnx',
      'text_encoder.onnx',
      'tokenizer/merges.txt',
      'tokenizer/vocab.json',
    ])
    expect(m.graphs.text_encoder?.tokenizer).toBe('tokenizer')
  })
})
