// `cascade pull` against a local stand-in of the Hugging Face Hub (hub-stand-in.ts) serving a tiny Würstchen v2 in
// the Hub's layout (warp-ai/wuerstchen-prior + warp-ai/wuerstchen, with files the model does not need beside the
// ones it does). No internet. Faults: a cut connection (resumed by the next run), corrupted bytes, a gated
// repository, a full disk, a conversion that fails; none leaves a model directory behind.
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { makeTiny } from '../src/compiler/make-tiny.ts'
import { Manifest } from '../src/compiler/manifest.ts'
import { type PullOptions, pull } from '../src/pull/pull.ts'
import { HubStandIn } from './hub-stand-in.ts'

const run = promisify(execFile)
const root = join(import.meta.dirname, '..', '..')
const hub = new HubStandIn()
let tiny: Manifest
let tinyDir: string
let work: string

const PRIOR = 'warp-ai/wuerstchen-prior'
const DECODER = 'warp-ai/wuerstchen'
const DECODER_WEIGHTS = 'decoder/diffusion_pytorch_model.safetensors'
const VQGAN_WEIGHTS = 'vqgan/diffusion_pytorch_model.safetensors'
/** Every file the v2 model needs, per repository; the stand-in also holds files it does not need. */
const NEEDED = {
  [PRIOR]: [
    'prior/config.json',
    'prior/diffusion_pytorch_model.safetensors',
    'text_encoder/config.json',
    'text_encoder/model.safetensors',
    'tokenizer/merges.txt',
    'tokenizer/vocab.json',
  ],
  [DECODER]: [
    'decoder/config.json',
    DECODER_WEIGHTS,
    'text_encoder/config.json',
    'text_encoder/model.safetensors',
    'tokenizer/merges.txt',
    'tokenizer/vocab.json',
    'vqgan/config.json',
    VQGAN_WEIGHTS,
  ],
}

/** A make-tiny checkpoint folder laid out as the two Würstchen v2 Hub repositories. */
function stageRepos(ckpt: string): void {
  const file = (name: string) => readFileSync(join(ckpt, name))
  const config = (stem: string) =>
    Buffer.from(JSON.stringify(JSON.parse(file(`${stem}.json`).toString()).kwargs, null, 1))
  const folder = (dir: string, stem: string, weights = 'diffusion_pytorch_model.safetensors') => [
    [`${dir}/${weights}`, file(`${stem}.safetensors`)] as const,
    [`${dir}/config.json`, config(stem)] as const,
  ]
  const unneeded = (dir: string) => [
    [`${dir}/diffusion_pytorch_model.bin`, Buffer.alloc(64, 1)] as const,
    [`${dir}/diffusion_pytorch_model.fp16.safetensors`, Buffer.alloc(64, 2)] as const,
    ['model_index.json', Buffer.from('{}')] as const,
    ['scheduler/scheduler_config.json', Buffer.from('{}')] as const,
    ['README.md', Buffer.from('# tiny')] as const,
  ]
  hub.repos.set(PRIOR, {
    files: new Map([
      ...folder('prior', 'stage_c'),
      ...folder('text_encoder', 'text_encoder', 'model.safetensors'),
      ['tokenizer/vocab.json', file('tokenizer/vocab.json')],
      ['tokenizer/merges.txt', file('tokenizer/merges.txt')],
      ...unneeded('prior'),
    ]),
  })
  hub.repos.set(DECODER, {
    files: new Map([
      ...folder('decoder', 'stage_b'),
      ...folder('vqgan', 'stage_a'),
      ...folder('text_encoder', 'text_encoder_2', 'model.safetensors'),
      ['tokenizer/vocab.json', file('tokenizer_2/vocab.json')],
      ['tokenizer/merges.txt', file('tokenizer_2/merges.txt')],
      ...unneeded('decoder'),
    ]),
  })
}

const outDir = () => join(mkdtempSync(join(work, 'run-')), 'model')
const pullTo = (out: string, more: Partial<PullOptions> = {}) =>
  pull({ model: 'wuerstchen-v2', dtype: 'fp32', outDir: out, hubUrl: hub.url, ...more })
/** Downloads of real content (not the size probes), as `repo:path`. */
const downloads = () => hub.requests.filter((r) => r.range !== 'bytes=0-0').map((r) => `${r.repo}:${r.path}`)
const dataHash = (m: Manifest, path: string) => m.files.find((f) => f.path === path)?.sha256

/** The model directory, its staging folder and its downloads: which exist. */
const leftovers = (out: string) =>
  readdirSync(dirname(out))
    .filter((n) => n.startsWith('model'))
    .sort()

describe('cascade pull (stand-in Hub)', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pull-'))
    tinyDir = join(work, 'tiny')
    tiny = await makeTiny({ family: 'wuerstchen-v2', outDir: tinyDir, seed: 21 })
    stageRepos(join(tinyDir, 'checkpoints'))
    await hub.start()
  })
  afterAll(() => hub.stop())
  beforeEach(() => {
    hub.requests.length = 0
    hub.cutAfter.clear()
    hub.corrupt.clear()
    hub.listedSize.clear()
    for (const r of hub.repos.values()) delete r.token
  })

  it('downloads exactly the needed files and converts them (the CLI, HF_ENDPOINT)', async () => {
    const out = outDir()
    const { stdout } = await run(
      process.execPath,
      // A trailing slash, as a shell completes it: the downloads and the staging folder are still siblings.
      [
        join(root, 'gpu-backend/bin/cascade.mjs'),
        'pull',
        'wuerstchen-v2',
        '--dtype',
        'fp32',
        // make-tiny writes the tile graphs too.
        '--tiling',
        '--out',
        `${out}/`,
      ],
      { cwd: root, env: { ...process.env, HF_ENDPOINT: hub.url, HF_TOKEN: '' } },
    )
    expect(stdout).toMatch(/wrote wuerstchen-v2 v2 \(fp32\)/)
    expect(downloads().sort()).toEqual(
      Object.entries(NEEDED)
        .flatMap(([repo, files]) => files.map((f) => `${repo}:${f}`))
        .sort(),
    )
    const m = Manifest.parse(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')))
    expect(Object.keys(m.graphs).sort()).toEqual(Object.keys(tiny.graphs).sort())
    // The same weights as make-tiny's own conversion of these checkpoints, graph for graph.
    for (const f of tiny.files.filter((f) => f.path.endsWith('.onnx.data')))
      expect(dataHash(m, f.path), f.path).toBe(f.sha256)
    // Downloads are removed once the model is converted; nothing else is left, beside it or in it.
    expect(leftovers(out)).toEqual(['model'])
    expect(readdirSync(out).filter((f) => /\.(partial|download)$/.test(f))).toEqual([])
  })

  it('resumes a download cut mid-file from where it stopped', async () => {
    const out = outDir()
    const size = hub.repos.get(DECODER)?.files.get(DECODER_WEIGHTS)?.length as number
    const cut = Math.floor(size / 3)
    hub.cutAfter.set(DECODER_WEIGHTS, cut)
    await expect(pullTo(out)).rejects.toThrow(
      new RegExp(
        `download of ${DECODER}/${DECODER_WEIGHTS} was interrupted at ${cut} of ${size} bytes.*run the same command again to resume`,
      ),
    )
    expect(leftovers(out)).toEqual(['model.download'])
    expect(statSync(join(`${out}.download`, `${DECODER_WEIGHTS}.part`)).size).toBe(cut)
    const before = downloads().length
    await pullTo(out)
    const again = hub.requests.filter((r) => r.range !== 'bytes=0-0').slice(before)
    // Only what was missing is fetched again: the rest of that file by range, then the files not yet started.
    expect(again[0]).toMatchObject({ path: DECODER_WEIGHTS, range: `bytes=${cut}-${size - 1}` })
    expect(again.filter((r) => r.path === 'prior/diffusion_pytorch_model.safetensors')).toEqual([])
    expect(leftovers(out)).toEqual(['model'])
    expect(existsSync(join(out, 'stage_b.onnx'))).toBe(true)
  })

  it('refuses a corrupted file (sha256 of an LFS file, Git blob id of a small one) and downloads it afresh next time', async () => {
    const out = outDir()
    hub.corrupt.add(VQGAN_WEIGHTS)
    await expect(pullTo(out)).rejects.toThrow(
      /warp-ai\/wuerstchen\/vqgan\/diffusion_pytorch_model\.safetensors is corrupt: its sha256 is [0-9a-f]{64}, the Hub lists [0-9a-f]{64}; the file was removed, run the same command again to download it afresh/,
    )
    expect(leftovers(out)).toEqual(['model.download'])
    expect(existsSync(join(`${out}.download`, `${VQGAN_WEIGHTS}.part`))).toBe(false)
    hub.corrupt.clear()
    hub.corrupt.add('tokenizer/merges.txt')
    await expect(pullTo(out)).rejects.toThrow(
      /tokenizer\/merges\.txt is corrupt: its Git blob id is [0-9a-f]{40}/,
    )
    hub.corrupt.clear()
    await pullTo(out)
    expect(leftovers(out)).toEqual(['model'])
  })

  it('asks for HF_TOKEN on a gated repository, and uses it', async () => {
    const out = outDir()
    const gated = hub.repos.get(DECODER)
    if (gated) gated.token = 'hf_stand_in_token'
    const cli = (env: Record<string, string>) =>
      run(
        process.execPath,
        [join(root, 'gpu-backend/bin/cascade.mjs'), 'pull', 'wuerstchen-v2', '--out', out],
        {
          cwd: root,
          env: { ...process.env, HF_ENDPOINT: hub.url, ...env },
        },
      ).catch((e: { code: number; stderr: string }) => e)
    const without = await cli({ HF_TOKEN: '' })
    expect(without).toMatchObject({ code: 1 })
    expect((without as { stderr: string }).stderr).toMatch(
      new RegExp(
        `warp-ai/wuerstchen needs an access token \\(401: it is gated or private\\)\\. Accept its licence at ${hub.url}/warp-ai/wuerstchen, then set HF_TOKEN`,
      ),
    )
    const wrong = await cli({ HF_TOKEN: 'hf_wrong' })
    expect((wrong as { stderr: string }).stderr).toMatch(
      /the Hub refused HF_TOKEN for warp-ai\/wuerstchen \(401\)/,
    )
    // The open repository's files were fetched and are kept for the next run; there is no model directory.
    expect(leftovers(out)).toEqual(['model.download'])
    await pullTo(out, { accessToken: 'hf_stand_in_token' })
    expect(existsSync(join(out, 'manifest.json'))).toBe(true)
  })

  it('refuses to start when the disk cannot hold the download, and stops cleanly when the disk fills', async () => {
    const out = outDir()
    hub.listedSize.set(DECODER_WEIGHTS, 2 ** 52)
    await expect(pullTo(out)).rejects.toThrow(/not enough disk space: the download needs [\d.]+ GB more in/)
    expect(downloads()).toEqual([])
    expect(leftovers(out)).toEqual([])
    hub.listedSize.clear()
    // The kernel's own ENOSPC: the partial download of one file is /dev/full.
    const part = join(`${out}.download`, `${VQGAN_WEIGHTS}.part`)
    mkdirSync(dirname(part), { recursive: true })
    symlinkSync('/dev/full', part)
    await expect(pullTo(out)).rejects.toThrow(
      /the disk is full \(writing .*\.part\); free some space and run the same command again/,
    )
    expect(leftovers(out)).toEqual(['model.download'])
  })

  it('leaves no model directory when the conversion fails, and never writes into a non-empty one', async () => {
    const out = outDir()
    const prior = hub.repos.get(PRIOR)?.files as Map<string, Buffer>
    const config = prior.get('prior/config.json') as Buffer
    prior.set('prior/config.json', Buffer.from(JSON.stringify({ ...JSON.parse(config.toString()), c: 48 })))
    try {
      await expect(pullTo(out)).rejects.toThrow(/does not fit the architecture/)
    } finally {
      prior.set('prior/config.json', config)
    }
    expect(leftovers(out)).toEqual(['model.download'])
    const busy = outDir()
    mkdirSync(busy)
    symlinkSync(join(tinyDir, 'manifest.json'), join(busy, 'manifest.json'))
    await expect(pullTo(busy)).rejects.toThrow(/exists and is not empty; remove it or choose another --out/)
  })
})
