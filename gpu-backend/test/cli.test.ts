// The `cascade` CLI as a user runs it: a real process, real files, real onnxruntime sessions.
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { inputImages } from '../../test/support/input-images.ts'
import { sha256File } from '../src/compiler/convert.ts'
import { makeTiny } from '../src/compiler/make-tiny.ts'
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
      expect(manifest.random_weights).toBe(true)
      const text = family === 'wuerstchen-v2' ? ['text_encoder', 'text_encoder_2'] : ['text_encoder']
      // Stable Cascade also gets its image graphs, compiled from checkpoints under the released names.
      const image =
        family === 'stable-cascade'
          ? [
              'effnet_encoder',
              'clip_vision',
              'previewer',
              'controlnet_canny',
              'controlnet_inpainting',
              'controlnet_super_resolution',
              'stage_c_cnet',
            ]
          : []
      // And the tile graphs, which read the plain graphs' weights files.
      const tiles = ['stage_c_tile', 'stage_b_tile', 'stage_a_decoder_tile']
      expect(Object.keys(manifest.graphs).sort()).toEqual(
        ['stage_a_decoder', 'stage_a_encoder', 'stage_b', 'stage_c', ...tiles, ...text, ...image].sort(),
      )
      expect(manifest.files.filter((f) => /_tile\.onnx/.test(f.path)).map((f) => f.path)).toEqual(
        tiles.map((t) => `${t}.onnx`),
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

  it('--tiling: the tile graph beside the plain one, reading its weights; not for a stage without one', async () => {
    const out = mkdtempSync(join(tmpdir(), 'conv-tile-'))
    const stage = ['--family', 'stable-cascade', '--stage']
    const { stdout } = await cascade(
      'convert',
      ...stage,
      'c',
      '--weights',
      join(golden, 'weights', 'stage_c_tiny.safetensors'),
      '--config',
      join(golden, 'configs', 'stage_c_tiny.json'),
      '--tiling',
      '--out',
      out,
    )
    expect(stdout).toContain('wrote stage_c.onnx, stage_c.onnx.data, stage_c_tile.onnx to')
    const s = await createSession(join(out, 'stage_c_tile.onnx'))
    expect(s.inputNames).toEqual(['x', 'r', 'clip_text', 'clip_text_pooled', 'clip_img', 'tiling'])
    await expect(
      cascade(
        'convert',
        ...stage,
        'text',
        '--weights',
        join(golden, 'weights', 'clip_text_tiny.safetensors'),
        '--config',
        join(golden, 'configs', 'clip_text_tiny.json'),
        '--tiling',
        '--out',
        out,
      ),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/stage text has no tile graphs/) })
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
    // Each graph with its weights beside it as external data.
    expect(m.files.map((f) => f.path).sort()).toEqual([
      'stage_a_decoder.onnx',
      'stage_a_decoder.onnx.data',
      'stage_a_encoder.onnx',
      'stage_a_encoder.onnx.data',
      'stage_b.onnx',
      'stage_b.onnx.data',
      'stage_c.onnx',
      'stage_c.onnx.data',
      'text_encoder.onnx',
      'text_encoder.onnx.data',
      'tokenizer/merges.txt',
      'tokenizer/vocab.json',
    ])
    expect(m.graphs.text_encoder?.tokenizer).toBe('tokenizer')
  })
})

describe('cascade convert, image stages (golden image/ checkpoints and configs)', () => {
  const image = join(golden, 'image')
  it('a ControlNet: controlnet.onnx (hint -> cnet_<k>) and controlnet.json', async () => {
    const out = mkdtempSync(join(tmpdir(), 'conv-cnet-'))
    const { stdout } = await cascade(
      'convert',
      '--family',
      'stable-cascade',
      '--stage',
      'controlnet',
      '--weights',
      join(image, 'weights', 'controlnet_canny_tiny.safetensors'),
      '--config',
      join(image, 'configs', 'controlnet_canny_tiny.json'),
      '--out',
      out,
    )
    expect(stdout).toContain('controlnet.json')
    const config = JSON.parse(readFileSync(join(image, 'configs', 'controlnet_canny_tiny.json'), 'utf8'))
    const json = JSON.parse(readFileSync(join(out, 'controlnet.json'), 'utf8'))
    expect(json).toMatchObject({ type: 'canny', proj_blocks: config.proj_blocks, c_in: 1, hint_stride: 32 })
    const s = await createSession(join(out, 'controlnet.onnx'))
    expect(s.inputNames).toEqual(['hint'])
    expect(s.outputNames).toEqual(config.proj_blocks.map((k: number) => `cnet_${k}`))
  })

  it('stage c with --controlnet-blocks: the usual inputs plus cnet_<k>', async () => {
    const out = mkdtempSync(join(tmpdir(), 'conv-cnet-c-'))
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
      '--controlnet-blocks',
      '0,2,5',
      '--out',
      out,
    )
    const s = await createSession(join(out, 'stage_c.onnx'))
    expect(s.inputNames).toEqual([
      'x',
      'r',
      'clip_text',
      'clip_text_pooled',
      'clip_img',
      'cnet_0',
      'cnet_2',
      'cnet_5',
    ])
    await expect(
      cascade(
        'convert',
        '--family',
        'stable-cascade',
        '--stage',
        'b',
        '--weights',
        'x',
        '--controlnet-blocks',
        '0',
        '--out',
        out,
      ),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/--controlnet-blocks belongs to --stage c/) })
    await expect(
      cascade(
        'convert',
        '--family',
        'stable-cascade',
        '--stage',
        'c',
        '--weights',
        'x',
        '--controlnet-blocks',
        '0,a',
        '--out',
        out,
      ),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/comma-separated non-negative integers/) })
  })
})

describe('cascade convert --stage text2', () => {
  it("converts Würstchen v2's decoder text encoder as text_encoder_2.onnx", async () => {
    const out = mkdtempSync(join(tmpdir(), 'conv-text2-'))
    await cascade(
      'convert',
      '--family',
      'wuerstchen-v2',
      '--stage',
      'text2',
      '--weights',
      join(golden, 'weights', 'clip_text_tiny.safetensors'),
      '--config',
      join(golden, 'configs', 'clip_text_tiny.json'),
      '--out',
      out,
    )
    const s = await createSession(join(out, 'text_encoder_2.onnx'))
    expect(s.inputNames).toEqual(['input_ids', 'attention_mask'])
    expect(s.outputNames).toContain('last_hidden_state')
  })
})

describe('cascade tokenize', () => {
  it('gives the golden ids and masks for every golden prompt', async () => {
    const prompts = JSON.parse(readFileSync(join(golden, 'tokenizer', 'prompts.json'), 'utf8')).prompts as {
      text: string
      ids_padded_77: number[]
      attention_mask_77: number[]
    }[]
    const child = execFile(
      process.execPath,
      [bin, 'tokenize', '--tokenizer-dir', join(golden, 'tokenizer')],
      {
        cwd: root,
        maxBuffer: 1 << 26,
      },
    )
    let stdout = ''
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d
    })
    child.stdin?.end(JSON.stringify(prompts.map((p) => p.text)))
    expect(await new Promise((r) => child.on('exit', r))).toBe(0)
    const out = JSON.parse(stdout) as { ids: number[]; attention_mask: number[] }[]
    expect(out).toEqual(prompts.map((p) => ({ ids: p.ids_padded_77, attention_mask: p.attention_mask_77 })))
  })

  it('refuses stdin that is not a JSON array of strings', async () => {
    const child = execFile(
      process.execPath,
      [bin, 'tokenize', '--tokenizer-dir', join(golden, 'tokenizer')],
      {
        cwd: root,
      },
    )
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d
    })
    child.stdin?.end('{"prompt": "a cat"}')
    expect(await new Promise((r) => child.on('exit', r))).toBe(1)
    expect(stderr).toMatch(/JSON array of strings/)
  })
})

describe('cascade generate', () => {
  for (const family of ['stable-cascade', 'wuerstchen-v2'] as const)
    it(`generates ${family} images: size, seed, negative prompt, -n, PNG parameters`, async () => {
      const dir = mkdtempSync(join(tmpdir(), `gen-${family}-`))
      await makeTiny({ family, seed: 2, outDir: dir })
      const gen = async (name: string, ...args: string[]) => {
        const out = join(dir, name)
        const base = [
          '--prompt',
          'a red fox',
          '--size',
          '512x768',
          '--prior-steps',
          '2',
          '--decoder-steps',
          '2',
        ]
        await cascade('generate', '--model-dir', dir, ...base, '--out', out, ...args)
        return out
      }
      const a = readFileSync(await gen('a.png', '--seed', '4', '--prior-guidance', '4'))
      const again = readFileSync(await gen('again.png', '--seed', '4', '--prior-guidance', '4'))
      const other = readFileSync(await gen('other.png', '--seed', '5', '--prior-guidance', '4'))
      const neg = readFileSync(
        await gen('neg.png', '--seed', '4', '--prior-guidance', '4', '--negative-prompt', 'snow'),
      )
      expect(Buffer.compare(a, again)).toBe(0)
      const pixels = async (b: Buffer) => (await sharp(b).raw().toBuffer()).toString('base64')
      expect(await pixels(other)).not.toBe(await pixels(a))
      expect(await pixels(neg)).not.toBe(await pixels(a))
      const meta = await sharp(a).metadata()
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 512, 768])
      expect(Object.fromEntries((meta.comments ?? []).map((c) => [c.keyword, c.text]))).toMatchObject({
        prompt: 'a red fox',
        seed: '4',
        size: '512x768',
        prior_steps: '2',
        prior_guidance: '4',
      })
      // Seamless tiling: the tile graphs, another image, the axes in the PNG's parameters.
      for (const [args, axes] of [
        [['--tiling'], 'xy'],
        [['--tiling', 'x'], 'x'],
      ] as const) {
        const tiled = readFileSync(
          await gen(`tiled-${axes}.png`, '--seed', '4', '--prior-guidance', '4', ...args),
        )
        expect(await pixels(tiled)).not.toBe(await pixels(a))
        const comments = (await sharp(tiled).metadata()).comments ?? []
        expect(comments.find((c) => c.keyword === 'tiling')?.text).toBe(axes)
      }
      await gen('batch.webp', '--seed', '4', '-n', '2')
      for (const f of ['batch-1.webp', 'batch-2.webp']) {
        const m = await sharp(join(dir, f)).metadata()
        expect([m.format, m.width, m.height]).toEqual(['webp', 512, 768])
      }
    })

  it('image inputs: --image alone, --strength, --mask, --control canny:, --previews; bad inputs named by option', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gen-images-'))
    await makeTiny({ family: 'stable-cascade', seed: 3, outDir: dir })
    const images = await inputImages()
    const file = (name: string) => {
      const f = join(dir, `${name}.img`)
      writeFileSync(f, (images[name] as { bytes: Uint8Array }).bytes)
      return f
    }
    const base = [
      'generate',
      '--model-dir',
      dir,
      '--size',
      '512x512',
      '--prior-steps',
      '4',
      '--decoder-steps',
      '1',
    ]
    const out = (name: string) => join(dir, name)
    const size = async (f: string) => {
      const m = await sharp(f).metadata()
      return [m.width, m.height]
    }
    await cascade(...base, '--image', file('photo'), '--out', out('variation.png'))
    expect(await size(out('variation.png'))).toEqual([512, 512])
    await cascade(
      ...base,
      '--prompt',
      'a',
      '--image',
      file('jpeg'),
      '--strength',
      '0.5',
      '--out',
      out('i2i.png'),
    )
    const i2i = await sharp(out('i2i.png')).metadata()
    expect(Object.fromEntries((i2i.comments ?? []).map((c) => [c.keyword, c.text]))).toMatchObject({
      strength: '0.5',
    })
    await cascade(
      ...base,
      '--prompt',
      'a',
      '--image',
      file('photo'),
      '--mask',
      file('mask'),
      '--out',
      out('inpaint.png'),
    )
    const previews = join(dir, 'previews')
    await cascade(
      ...base,
      '--prompt',
      'a',
      '--control',
      `canny:${file('cmyk')}`,
      '--previews',
      previews,
      '--out',
      out('c.png'),
    )
    expect(await size(out('c.png'))).toEqual([512, 512])
    for (const step of ['01', '02', '03', '04'])
      expect(await size(join(previews, `c-${step}.jpg`))).toEqual([96, 96])
    for (const [args, message] of [
      [['--image', file('truncatedPng')], /--image .* is a truncated PNG/],
      [['--image', file('photo'), '--mask', file('otherSize')], /--mask .* must be the size of the image/],
      [['--image', file('photo'), '--strength', '0.1'], /--strength .* no step/],
      [['--prompt', 'a', '--control', `sobel:${file('photo')}`], /--control must be <type>:<file>/],
      [['--prompt', 'a'], undefined],
    ] as const) {
      const run = cascade(...base, ...args, '--out', out('x.png'))
      if (message) await expect(run).rejects.toMatchObject({ stderr: expect.stringMatching(message) })
      else await expect(run).resolves.toBeDefined()
    }
  })

  it('refuses an output file it cannot encode and a malformed size', async () => {
    await expect(
      cascade('generate', '--model-dir', '.', '--prompt', 'x', '--out', 'x.gif'),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/\.png, \.webp, \.jpeg/) })
    await expect(
      cascade('generate', '--model-dir', '.', '--prompt', 'x', '--size', '512', '--out', 'x.png'),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/WIDTHxHEIGHT/) })
    await expect(
      cascade('generate', '--model-dir', '.', '--prompt', 'x', '--tiling', 'z', '--out', 'x.png'),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/--tiling.*z.*x, y/) })
  })
})
