// `cascade`: the model compiler's command line.
import { Argument, Command, InvalidArgumentError, Option } from 'commander'
import { convertModel, convertStage } from '../compiler/convert.ts'
import { type LoraSpec, parseLoraSpec } from '../compiler/lora/lora-file.ts'
import { makeTiny } from '../compiler/make-tiny.ts'
import { FAMILIES, type Family } from '../compiler/manifest.ts'
import { STAGE_IDS, type StageId } from '../compiler/stages.ts'
import { PULL_MODELS, type PullModel } from '../pull/plan.ts'
import { pull } from '../pull/pull.ts'
import { PROVIDER_CHOICES } from '../runtime/providers.ts'
import { COMPARE_PROMPTS, compareCommand, readPrompts } from './compare.ts'
import { generateCommand } from './generate.ts'
import { parsePlacement } from './image-inputs.ts'
import { downloadBar, progressBar } from './progress.ts'
import { providersCommand } from './providers.ts'
import { tokenizeCommand } from './tokenize.ts'

const family = new Option('--family <family>', 'model family').choices(FAMILIES).makeOptionMandatory()
const attention = new Option(
  '--attention <kernel>',
  'attention kernel: matmul (fastest on CPU) or com.microsoft MHA (CUDA)',
)
  .choices(['matmul', 'mha'])
  .default('matmul')
const tilingOption = new Option(
  '--tiling',
  "also write the tile graphs (stage_c_tile, stage_b_tile, stage_a_decoder_tile) for seamless tiling; they read the plain graphs' weights files",
).default(false)
const DTYPES = ['fp32', 'fp16', 'int8'] as const
const dtypeOption = () =>
  new Option(
    '--dtype <dtype>',
    'graph precision (int8: int8 weights for the linear and 1×1 layers, activations quantized per call)',
  )
    .choices(DTYPES)
    .default('fp32')
const keepFp32Option = () =>
  new Option(
    '--keep-fp32 <pattern>',
    'int8: keep the layers matching this glob in fp32, besides the default list (e.g. "*.attention.attn.out_proj", "stage_b/clf.1"; repeatable)',
  ).argParser((v: string, previous: string[] = []) => [...previous, v])

const int8BlockOption = () =>
  new Option(
    '--int8-block <n>',
    'int8: quantize weights and activations in blocks of n inputs (16, 32, 64, 128 or 256) instead of per channel and per tensor: about half the error, less of the speed',
  ).argParser((v: string) => {
    const n = Number(v)
    if (![16, 32, 64, 128, 256].includes(n)) throw new InvalidArgumentError('expected 16, 32, 64, 128 or 256')
    return n
  })

/** --keep-fp32 and --int8-block only mean something for int8 graphs. */
function checkInt8Options(o: { dtype: string; keepFp32?: string[]; int8Block?: number }): void {
  if (o.dtype === 'int8') return
  if (o.keepFp32?.length) throw new InvalidArgumentError('--keep-fp32 belongs to --dtype int8')
  if (o.int8Block) throw new InvalidArgumentError('--int8-block belongs to --dtype int8')
}

const loraHelp =
  'merge a LoRA into Stage C and its text encoder (official, kohya or PEFT format; repeatable; strength 1 by default)'

const providerOption = new Option(
  '--provider <provider>',
  'execution provider (auto: CUDA, else WebGPU, else CPU)',
)
  .choices(PROVIDER_CHOICES)
  .env('ORT_PROVIDER')
  .default('auto')

function int(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer')
  return n
}

function float(v: string): number {
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('expected a non-negative number')
  return n
}

function intList(v: string): number[] {
  const items = v.split(',').map((s) => s.trim())
  if (!items.every((s) => /^\d+$/.test(s)))
    throw new InvalidArgumentError('expected comma-separated non-negative integers, e.g. 0,4,8')
  return items.map(Number)
}

function size(v: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(v)
  if (!m) throw new InvalidArgumentError('expected WIDTHxHEIGHT, e.g. 1024x1024')
  return { width: Number(m[1]), height: Number(m[2]) }
}

/** Repeatable `--lora file[:strength]`. */
function loraSpec(v: string, previous: LoraSpec[]): LoraSpec[] {
  const spec = parseLoraSpec(v)
  if (!Number.isFinite(spec.strength)) throw new InvalidArgumentError('expected file[:strength]')
  return [...previous, spec]
}

/** `text2` is accepted for v2's decoder text encoder (the graph and manifest call it text_2). */
const STAGE_ALIASES: Record<string, StageId> = { text2: 'text_2' }

const program = new Command('cascade').description(
  'Compile Würstchen / Stable Cascade checkpoints into ONNX graphs',
)

program
  .command('convert')
  .description('convert one stage (--stage, --weights) or a whole released model (--from)')
  .addOption(family)
  .addOption(
    new Option('--stage <stage>', 'stage to convert')
      .choices([...STAGE_IDS, ...Object.keys(STAGE_ALIASES)])
      .conflicts('from'),
  )
  .option('--weights <files...>', 'checkpoint file(s) of the stage (.safetensors, shards allowed)')
  .option(
    '--config <json>',
    'architecture config (official constructor arguments) where the checkpoint does not determine it',
  )
  .addOption(
    new Option('--from <folder>', 'folder of official files (original or diffusers layout)').conflicts([
      'stage',
      'weights',
    ]),
  )
  .option('--variant <name>', 'released variant to pick in --from (stable-cascade: big | lite)')
  .addOption(dtypeOption())
  .addOption(keepFp32Option())
  .addOption(int8BlockOption())
  .addOption(attention)
  .option(
    '--extra-inputs',
    'expose sca / crp / pixels as graph inputs instead of folding their defaults',
    false,
  )
  .option('--lora <file[:strength]>', loraHelp, loraSpec, [])
  .addOption(tilingOption)
  .addOption(
    new Option(
      '--controlnet-blocks <list>',
      'stage c: ResBlock calls (down then up) that take ControlNet inputs cnet_<k>, e.g. 0,4,8,12,51,55,59,63',
    )
      .argParser(intList)
      .conflicts('from'),
  )
  .requiredOption('--out <dir>', 'output directory')
  .action(async (o) => {
    const f = o.family as Family
    checkInt8Options(o)
    if (o.from) {
      const m = await convertModel({
        family: f,
        from: o.from,
        outDir: o.out,
        variant: o.variant,
        dtype: o.dtype,
        keepFp32: o.keepFp32,
        int8Block: o.int8Block,
        attention: o.attention,
        loras: o.lora,
        tiling: o.tiling,
        progress: progressBar(),
        warn: (message) => console.warn(`cascade: ${message}`),
      })
      for (const l of m.loras ?? [])
        console.log(`merged LoRA ${l.file} (${l.format}) at strength ${l.strength}`)
      console.log(
        `wrote ${m.files.length} files and manifest.json to ${o.out} (weights ${m.weights_version.slice(0, 12)})`,
      )
      return
    }
    if (!o.stage || !o.weights)
      throw new InvalidArgumentError('convert needs --stage and --weights, or --from')
    if (o.controlnetBlocks && o.stage !== 'c')
      throw new InvalidArgumentError('--controlnet-blocks belongs to --stage c')
    const written = convertStage({
      family: f,
      stage: STAGE_ALIASES[o.stage] ?? (o.stage as StageId),
      weights: o.weights,
      config: o.config,
      dtype: o.dtype,
      keepFp32: o.keepFp32,
      int8Block: o.int8Block,
      attention: o.attention,
      extraInputs: o.extraInputs,
      ...(o.controlnetBlocks ? { controlnetBlocks: o.controlnetBlocks } : {}),
      outDir: o.out,
      loras: o.lora,
      tiling: o.tiling,
      progress: progressBar(),
    })
    for (const l of o.lora as LoraSpec[]) console.log(`merged LoRA ${l.path} at strength ${l.strength}`)
    console.log(`wrote ${written.flatMap((w) => w.files).join(', ')} to ${o.out}`)
  })

program
  .command('pull')
  .description(
    'download a released model from the Hugging Face Hub (resumable, sha256-checked; HF_TOKEN for gated repositories, HF_ENDPOINT for another hub) and convert it',
  )
  .addArgument(new Argument('<model>', 'model id').choices(PULL_MODELS))
  .option('--variant <name>', 'stable-cascade: big | lite')
  .addOption(
    new Option(
      '--dtype <dtype>',
      'graph precision; fp16 and int8 download the half-precision checkpoints where there are some',
    )
      .choices(DTYPES)
      .default('fp16'),
  )
  .addOption(attention)
  .option('--lora <file[:strength]>', loraHelp, loraSpec, [])
  .addOption(tilingOption)
  .option('--revision <rev>', 'Hub revision: branch, tag or commit', 'main')
  .option(
    '--download-dir <dir>',
    'where downloads collect until the conversion succeeds (default <out>.download)',
  )
  .option('--keep-downloads', 'keep the downloaded checkpoints after converting', false)
  .requiredOption('--out <dir>', 'output model directory (created only when everything succeeded)')
  .action(async (model: PullModel, o) => {
    const m = await pull({
      model,
      variant: o.variant,
      dtype: o.dtype,
      attention: o.attention,
      outDir: o.out,
      downloadDir: o.downloadDir,
      keepDownloads: o.keepDownloads,
      revision: o.revision,
      loras: o.lora,
      tiling: o.tiling,
      hubUrl: process.env.HF_ENDPOINT || undefined,
      accessToken: process.env.HF_TOKEN || undefined,
      download: downloadBar(),
      convert: progressBar(),
    })
    console.log(
      `wrote ${m.family} ${m.variant} (${m.dtype}) to ${o.out} (weights ${m.weights_version.slice(0, 12)})`,
    )
  })

program
  .command('make-tiny')
  .description(
    'write a complete tiny model directory (random weights, real architecture) for tests and the demo',
  )
  .addOption(family)
  .option('--seed <n>', 'random seed', int, 0)
  .addOption(dtypeOption())
  .addOption(keepFp32Option())
  .addOption(int8BlockOption())
  .requiredOption('--out <dir>', 'output model directory')
  .action(async (o) => {
    checkInt8Options(o)
    const m = await makeTiny({
      family: o.family as Family,
      seed: o.seed,
      dtype: o.dtype,
      keepFp32: o.keepFp32,
      int8Block: o.int8Block,
      outDir: o.out,
      progress: progressBar(),
    })
    console.log(`wrote tiny ${m.family} model to ${o.out} (weights ${m.weights_version.slice(0, 12)})`)
  })

program
  .command('tokenize')
  .description(
    'CLIP-tokenize a JSON array of prompts from stdin: [{ ids, attention_mask }] (77 each) on stdout',
  )
  .requiredOption('--tokenizer-dir <dir>', 'folder with vocab.json + merges.txt or tokenizer.json')
  .action((o) => tokenizeCommand({ tokenizerDir: o.tokenizerDir }))

program
  .command('generate')
  .description('generate images from a prompt (and image inputs) with a model directory, locally (no server)')
  .requiredOption('--model-dir <dir>', 'model directory (cascade convert / make-tiny)')
  .option('--prompt <text>', 'the prompt (may be left out with --image: a variation)')
  .option('--negative-prompt <text>', 'what the image should not show', '')
  .option('--size <WxH>', 'image size', size, { width: 1024, height: 1024 })
  .option('--seed <n>', 'random seed (image i uses seed + i); random if omitted', int)
  .option('--prior-steps <n>', "Stage C steps (model's default)", int)
  .option('--prior-guidance <x>', "Stage C guidance (model's default)", float)
  .option('--decoder-steps <n>', "Stage B steps (model's default)", int)
  .option('--decoder-guidance <x>', "Stage B guidance (model's default)", float)
  .option('-n, --n <n>', 'number of images (one batch)', int, 1)
  .addOption(
    new Option(
      '--tiling [axes]',
      'seamless tiling on both axes, or x (left-right) or y (top-bottom) only; needs a model converted with --tiling',
    ).choices(['x', 'y']),
  )
  .option('--image <file>', 'input image: alone a variation, with --strength img2img, with --mask inpainting')
  .option('--strength <s>', 'img2img / inpainting: how far the image is noised, 0 < s ≤ 1', float)
  .option('--mask <file>', 'inpainting mask (transparent or, without alpha, white pixels are repainted)')
  .option('--placement <x,y,w,h>', 'outpainting: where the image goes on the --size canvas', (v) =>
    parsePlacement(v),
  )
  .option(
    '--no-composite',
    'inpainting / outpainting: keep the generated pixels where the mask keeps the input',
  )
  .option('--control <type:file>', 'a ControlNet: canny:<image> (edges found with Canny)')
  .option('--control-strength <x>', 'multiplies the ControlNet outputs', float, 1)
  .option('--control-preprocessed', 'the --control image already is the edge map', false)
  .option('--previews <dir>', "write Stage C's live preview of every step into <dir> (Stable Cascade)")
  .addOption(providerOption)
  .option('--cpu', 'the same as --provider cpu', false)
  .requiredOption('--out <file>', 'output file (.png, .webp, .jpeg); several images get -1, -2, ...')
  .action(async (o) => {
    if (o.n < 1) throw new InvalidArgumentError('-n must be at least 1')
    const tiling = o.tiling === true ? 'xy' : o.tiling
    await generateCommand({ ...o, provider: o.cpu ? 'cpu' : o.provider, ...(tiling ? { tiling } : {}) })
  })

program
  .command('compare')
  .description(
    'the same prompts and seeds through two model directories (e.g. fp32 and int8): single-forward error per graph on identical inputs, PSNR and SSIM of the images, Stage C latent error, wall times',
  )
  .requiredOption(
    '--model-dir <dir>',
    'a model directory; give it twice, the reference first',
    (v: string, previous: string[] = []) => [...previous, v],
  )
  .option('--prompts <file>', 'prompts, one per line (default: eight built-in prompts)')
  .option('--seeds <list>', 'seeds, comma-separated; every prompt runs with each', intList, [1, 2])
  .option('--size <WxH>', 'image size', size, { width: 1024, height: 1024 })
  .option('--negative-prompt <text>', 'negative prompt of every image', '')
  .option('--prior-steps <n>', "Stage C steps (the first model's default)", int)
  .option('--prior-guidance <x>', "Stage C guidance (the first model's default)", float)
  .option('--decoder-steps <n>', "Stage B steps (the first model's default)", int)
  .option('--decoder-guidance <x>', "Stage B guidance (the first model's default)", float)
  .option('--threads <n>', "onnxruntime's intra-op threads (0: its default)", int, 0)
  .option('--save <dir>', 'write both images of every pair there')
  .option('--json', 'print the report as JSON')
  .action(async (o) => {
    if (o.modelDir.length !== 2) throw new InvalidArgumentError('give --model-dir exactly twice')
    for (const k of ['priorSteps', 'decoderSteps'] as const)
      if (o[k] === 0)
        throw new InvalidArgumentError(
          `--${k === 'priorSteps' ? 'prior' : 'decoder'}-steps must be at least 1`,
        )
    await compareCommand({
      modelDirs: [o.modelDir[0], o.modelDir[1]],
      prompts: o.prompts ? readPrompts(o.prompts) : COMPARE_PROMPTS,
      seeds: o.seeds,
      ...o.size,
      negativePrompt: o.negativePrompt,
      ...(o.priorSteps !== undefined ? { priorSteps: o.priorSteps } : {}),
      ...(o.priorGuidance !== undefined ? { priorGuidance: o.priorGuidance } : {}),
      ...(o.decoderSteps !== undefined ? { decoderSteps: o.decoderSteps } : {}),
      ...(o.decoderGuidance !== undefined ? { decoderGuidance: o.decoderGuidance } : {}),
      ...(o.save ? { saveDir: o.save } : {}),
      ...(o.threads ? { load: { intraOpThreads: o.threads } } : {}),
      json: Boolean(o.json),
    })
  })

program
  .command('providers')
  .description('which onnxruntime execution providers run on this host (float32, float16), and why not')
  .option('--json', 'print the probes as JSON')
  .action(async (o) => providersCommand({ json: Boolean(o.json) }))

program
  .command('serve')
  .description('start the GPU backend service (configuration from the environment, see README)')
  .option('--model-dir <dirs...>', 'model directories (else MODEL_DIR / MODEL_DIRS)')
  .option('--port <n>', 'listen port (else PORT, 8788)', int)
  .option('--host <address>', 'listen address (else HOST, 127.0.0.1)')
  .action(async (o) => {
    if (o.modelDir) process.env.MODEL_DIRS = o.modelDir.join(',')
    if (o.port !== undefined) process.env.PORT = String(o.port)
    if (o.host) process.env.HOST = o.host
    await import('../service/main.ts')
  })

program.parseAsync().catch((e: Error) => {
  console.error(`cascade: ${e.message}`)
  process.exit(1)
})
