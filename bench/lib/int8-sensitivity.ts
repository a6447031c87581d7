// The sensitivity pass behind the default keep-fp32 list (onnx/int8-layers.ts): one graph per group of layers with
// only that group in int8, run on recorded inputs, its error against fp32. Groups are layer paths with the block
// indices taken out (`channelwise.0` is every ResBlock's first MLP layer).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Family } from '../../gpu-backend/src/compiler/manifest.ts'
import { readConfigFile } from '../../gpu-backend/src/compiler/models/config.ts'
import type { Graph } from '../../gpu-backend/src/compiler/onnx/graph.ts'
import { locateStageFiles } from '../../gpu-backend/src/compiler/source-files.ts'
import { loadCheckpoint, type StageId, stageSpec } from '../../gpu-backend/src/compiler/stages.ts'
import { relL2 } from '../../gpu-backend/src/pipeline/image-metrics.ts'
import type { RecordedCall } from '../../gpu-backend/src/pipeline/record-calls.ts'
import { createSession, runFloat32 } from '../../gpu-backend/src/runtime/session.ts'

/** `down_blocks.1.7.channelwise.0` -> `channelwise.0`; `text_model.encoder.layers.3.mlp.fc1` -> `…layers.N.mlp.fc1`. */
export const layerGroup = (name: string) =>
  name
    .replace(/^(down|up)_blocks\.\d+\.\d+\./, '')
    .replace(/^blocks\.\d+\./, '')
    .replace(/\.layers\.\d+\./, '.layers.N.')
    .replace(/^up_blocks\.\d+\./, 'up_blocks.N.')
    .replace(/\.\d+\.\d+\.blocks\./, '.N.N.blocks.')

export interface GroupError {
  group: string
  layers: number
  error: number
}

/**
 * The error of `graphFile` (of `stage`, built from the checkpoints in `src`) with every layer int8 (`all`), and with
 * each group alone int8, on `call` (inputs and fp32 outputs).
 */
export async function sensitivity(
  family: Family,
  stage: StageId,
  variant: string,
  src: string,
  graphFile: string,
  call: RecordedCall,
  threads: number,
): Promise<{ all: number; groups: GroupError[] }> {
  const files = locateStageFiles(src, stage, variant)
  const kwargs = files.config ? readConfigFile(files.config) : undefined
  const dir = mkdtempSync(join(tmpdir(), 'int8-sensitivity-'))
  const run = async (keepFp32: string[]): Promise<{ error: number; graph: Graph }> => {
    const built = stageSpec(family, stage).build(loadCheckpoint(files.weights), kwargs, {
      dtype: 'int8',
      keepFp32,
    })
    const b = built.find((x) => x.file === graphFile)
    if (!b) throw new Error(`${stage} builds no ${graphFile}`)
    const path = join(dir, graphFile)
    rmSync(`${path}.data`, { force: true })
    writeFileSync(path, b.graph.serialize({ externalDataPath: `${path}.data` }))
    const session = await createSession(path, { intraOpThreads: threads })
    const out = await runFloat32(session, call.feeds)
    await session.release()
    const errors = Object.entries(call.outputs).map(([k, ref]) =>
      relL2(out[k]?.data ?? new Float32Array(), ref.data),
    )
    return { error: Math.max(...errors), graph: b.graph }
  }
  try {
    const all = await run([])
    const layers = all.graph.int8Layers?.int8 ?? []
    const groups: GroupError[] = []
    for (const group of [...new Set(layers.map(layerGroup))]) {
      const others = layers.filter((n) => layerGroup(n) !== group)
      groups.push({ group, layers: layers.length - others.length, error: (await run(others)).error })
    }
    return { all: all.error, groups: groups.sort((a, b) => b.error - a.error) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
