// What `cascade pull` takes from a repository listing: exactly the files a variant and precision need.
import type { ListFileEntry } from '@huggingface/hub'
import { describe, expect, it } from 'vitest'
import { planPull, resolveVariant } from './plan.ts'

const lfs = (path: string, size = 100): ListFileEntry => ({
  type: 'file',
  path,
  size,
  oid: 'b'.repeat(40),
  lfs: { oid: 'a'.repeat(64), size, pointerSize: 134 },
})
const git = (path: string): ListFileEntry => ({ type: 'file', path, size: 10, oid: 'c'.repeat(40) })

/** The stabilityai/stable-cascade layout (models.md 9.1, 9.2), trimmed. */
const stableCascade: ListFileEntry[] = [
  ...['stage_a', 'stage_b', 'stage_b_bf16', 'stage_b_lite', 'stage_b_lite_bf16'].map((s) =>
    lfs(`${s}.safetensors`),
  ),
  ...['stage_c', 'stage_c_bf16', 'stage_c_lite', 'stage_c_lite_bf16'].map((s) => lfs(`${s}.safetensors`)),
  lfs('effnet_encoder.safetensors'),
  lfs('previewer.safetensors'),
  lfs('controlnet/canny.safetensors'),
  lfs('decoder/diffusion_pytorch_model.safetensors'),
  git('decoder/config.json'),
  lfs('text_encoder/model.safetensors'),
  lfs('text_encoder/model.bf16.safetensors'),
  git('text_encoder/config.json'),
  ...['vocab.json', 'merges.txt', 'special_tokens_map.json', 'tokenizer_config.json'].map((f) =>
    git(`tokenizer/${f}`),
  ),
  git('model_index.json'),
  git('README.md'),
  { type: 'directory', path: 'text_encoder', size: 0, oid: 'd'.repeat(40) },
]
const tokenizer = ['merges.txt', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.json'].map(
  (f) => `tokenizer/${f}`,
)
const paths = (
  model: 'stable-cascade' | 'stable-cascade-lite',
  variant: string | undefined,
  dtype: 'fp16' | 'fp32' | 'int8',
) =>
  planPull(model, variant, dtype, { 'stabilityai/stable-cascade': stableCascade })
    .files.map((f) => f.path)
    .sort()

describe('cascade pull: the files a variant needs', () => {
  it('Stable Cascade big, fp16 graphs: the bf16 checkpoints, stage A, the text encoder and tokenizer', () => {
    expect(paths('stable-cascade', undefined, 'fp16')).toEqual(
      [
        'stage_a.safetensors',
        'stage_b_bf16.safetensors',
        'stage_c_bf16.safetensors',
        'text_encoder/config.json',
        'text_encoder/model.bf16.safetensors',
        ...tokenizer,
      ].sort(),
    )
  })
  it('int8 graphs start from the bf16 checkpoints too (half the download)', () => {
    expect(paths('stable-cascade', undefined, 'int8')).toEqual(paths('stable-cascade', undefined, 'fp16'))
  })
  it('Stable Cascade lite, fp32 graphs: the fp32 lite checkpoints', () => {
    const want = [
      'stage_a.safetensors',
      'stage_b_lite.safetensors',
      'stage_c_lite.safetensors',
      'text_encoder/config.json',
      'text_encoder/model.safetensors',
      ...tokenizer,
    ].sort()
    expect(paths('stable-cascade', 'lite', 'fp32')).toEqual(want)
    expect(paths('stable-cascade-lite', undefined, 'fp32')).toEqual(want)
  })
  it('takes the other precision where one is missing, keeps shards together, records hashes and sizes', () => {
    const listing = stableCascade
      .filter((e) => e.path !== 'stage_c_bf16.safetensors' && !e.path.startsWith('text_encoder/model'))
      .concat([
        lfs('text_encoder/model.fp16-00001-of-00002.safetensors', 7),
        lfs('text_encoder/model.fp16-00002-of-00002.safetensors', 5),
      ])
    const plan = planPull('stable-cascade', 'big', 'fp16', { 'stabilityai/stable-cascade': listing })
    const byPath = new Map(plan.files.map((f) => [f.path, f]))
    expect(byPath.get('stage_c.safetensors')).toMatchObject({ elementBytes: 4, sha256: 'a'.repeat(64) })
    expect(byPath.get('text_encoder/model.fp16-00002-of-00002.safetensors')).toMatchObject({
      size: 5,
      elementBytes: 2,
      local: 'text_encoder/model.fp16-00002-of-00002.safetensors',
    })
    expect(byPath.get('tokenizer/vocab.json')).toMatchObject({ gitOid: 'c'.repeat(40) })
    expect(byPath.get('tokenizer/vocab.json')?.sha256).toBeUndefined()
  })
  it('Würstchen v2 reads two repositories and renames the decoder repository’s text encoder', () => {
    const folder = (dir: string) => [
      lfs(`${dir}/diffusion_pytorch_model.safetensors`),
      git(`${dir}/config.json`),
    ]
    const text = [lfs('text_encoder/model.safetensors'), git('text_encoder/config.json')]
    const tok = [git('tokenizer/vocab.json'), git('tokenizer/merges.txt')]
    const plan = planPull('wuerstchen-v2', undefined, 'fp32', {
      'warp-ai/wuerstchen-prior': [
        ...folder('prior'),
        ...text,
        ...tok,
        lfs('prior/diffusion_pytorch_model.bin'),
      ],
      'warp-ai/wuerstchen': [...folder('decoder'), ...folder('vqgan'), ...text, ...tok],
    })
    expect(plan).toMatchObject({ family: 'wuerstchen-v2', variant: 'v2' })
    expect(
      plan.files
        .filter((f) => f.repo === 'warp-ai/wuerstchen')
        .map((f) => f.local)
        .sort(),
    ).toEqual(
      [
        'decoder/config.json',
        'decoder/diffusion_pytorch_model.safetensors',
        'text_encoder_2/config.json',
        'text_encoder_2/model.safetensors',
        'tokenizer_2/merges.txt',
        'tokenizer_2/vocab.json',
        'vqgan/config.json',
        'vqgan/diffusion_pytorch_model.safetensors',
      ].sort(),
    )
    expect(plan.files.some((f) => f.path.endsWith('.bin'))).toBe(false)
  })
  it('names what a repository lacks, and refuses variants that do not exist', () => {
    const listing = stableCascade.filter((e) => !/^stage_b|^tokenizer\/vocab/.test(e.path))
    expect(() =>
      planPull('stable-cascade', 'big', 'fp16', { 'stabilityai/stable-cascade': listing }),
    ).toThrow(
      /lack files[\s\S]*stabilityai\/stable-cascade: stage_b\[_bf16\]\.safetensors[\s\S]*tokenizer\/vocab\.json/,
    )
    expect(() => resolveVariant('stable-cascade', 'huge')).toThrow(/big and lite/)
    expect(() => resolveVariant('stable-cascade-lite', 'big')).toThrow(/lite variant/)
    expect(() => resolveVariant('wuerstchen-v2', 'lite')).toThrow(/no variant lite/)
  })
})
