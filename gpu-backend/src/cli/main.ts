// `cascade`: the model compiler's command line.
import { Command, InvalidArgumentError, Option } from 'commander'
import { convertModel, convertStage } from '../compiler/convert.ts'
import { makeTiny } from '../compiler/make-tiny.ts'
import { FAMILIES, type Family } from '../compiler/manifest.ts'
import { STAGE_IDS, type StageId } from '../compiler/stages.ts'
import { progressBar } from './progress.ts'

const family = new Option('--family <family>', 'model family').choices(FAMILIES).makeOptionMandatory()

function int(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer')
  return n
}

const program = new Command('cascade').description(
  'Compile Würstchen / Stable Cascade checkpoints into ONNX graphs',
)

program
  .command('convert')
  .description('convert one stage (--stage, --weights) or a whole released model (--from)')
  .addOption(family)
  .addOption(new Option('--stage <stage>', 'stage to convert').choices(STAGE_IDS).conflicts('from'))
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
  .addOption(new Option('--dtype <dtype>', 'graph precision').choices(['fp32', 'fp16']).default('fp32'))
  .addOption(
    new Option(
      '--attention <kernel>',
      'attention kernel: matmul (fastest on CPU) or com.microsoft MHA (CUDA)',
    )
      .choices(['matmul', 'mha'])
      .default('matmul'),
  )
  .option(
    '--extra-inputs',
    'expose sca / crp / pixels as graph inputs instead of folding their defaults',
    false,
  )
  .requiredOption('--out <dir>', 'output directory')
  .action(async (o) => {
    const f = o.family as Family
    if (o.from) {
      const m = await convertModel({
        family: f,
        from: o.from,
        outDir: o.out,
        variant: o.variant,
        dtype: o.dtype,
        attention: o.attention,
        progress: progressBar(),
      })
      console.log(
        `wrote ${m.files.length} files and manifest.json to ${o.out} (weights ${m.weights_version.slice(0, 12)})`,
      )
      return
    }
    if (!o.stage || !o.weights)
      throw new InvalidArgumentError('convert needs --stage and --weights, or --from')
    const written = convertStage({
      family: f,
      stage: o.stage as StageId,
      weights: o.weights,
      config: o.config,
      dtype: o.dtype,
      attention: o.attention,
      extraInputs: o.extraInputs,
      outDir: o.out,
      progress: progressBar(),
    })
    console.log(`wrote ${written.flatMap((w) => w.files).join(', ')} to ${o.out}`)
  })

program
  .command('make-tiny')
  .description(
    'write a complete tiny model directory (random weights, real architecture) for tests and the demo',
  )
  .addOption(family)
  .option('--seed <n>', 'random seed', int, 0)
  .requiredOption('--out <dir>', 'output model directory')
  .action(async (o) => {
    const m = await makeTiny({
      family: o.family as Family,
      seed: o.seed,
      outDir: o.out,
      progress: progressBar(),
    })
    console.log(`wrote tiny ${m.family} model to ${o.out} (weights ${m.weights_version.slice(0, 12)})`)
  })

program.parseAsync().catch((e: Error) => {
  console.error(`cascade: ${e.message}`)
  process.exit(1)
})
