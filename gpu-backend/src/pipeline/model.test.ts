// Loading a model directory checks it against its manifest first, and names every file that is wrong.
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { makeTiny } from '../compiler/make-tiny.ts'
import { ort } from '../runtime/session.ts'
import { loadModel } from './model.ts'

let pristine: string
beforeAll(async () => {
  pristine = mkdtempSync(join(tmpdir(), 'model-dir-'))
  await makeTiny({ family: 'wuerstchen-v2', outDir: pristine, seed: 4 })
})

const copy = () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-copy-'))
  cpSync(pristine, dir, { recursive: true })
  return dir
}

describe('loadModel', () => {
  it('loads a complete directory', async () => {
    const m = await loadModel(pristine, { verifySha256: true })
    expect(m.id).toBe('wuerstchen-v2')
  })

  it('names a missing and a truncated graph in one error', async () => {
    const dir = copy()
    rmSync(join(dir, 'stage_b.onnx'))
    truncateSync(join(dir, 'stage_c.onnx'), 100)
    await expect(loadModel(dir)).rejects.toThrow(
      /stage_c\.onnx has 100 bytes, the manifest says \d+.*stage_b\.onnx is missing|stage_b\.onnx is missing.*stage_c\.onnx has 100 bytes/,
    )
  })

  it('finds a same-size change only when asked to hash', async () => {
    const dir = copy()
    const p = join(dir, 'stage_a_decoder.onnx')
    const bytes = readFileSync(p)
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff
    writeFileSync(p, bytes)
    await expect(loadModel(dir, { verifySha256: true })).rejects.toThrow(
      /stage_a_decoder\.onnx does not match its sha256/,
    )
  })

  it('a graph onnxruntime cannot parse: rejects once the other loads are done, and releases them', async () => {
    const dir = copy()
    const p = join(dir, 'stage_c.onnx')
    const bytes = readFileSync(p)
    bytes.fill(0xff, 0, 64)
    writeFileSync(p, bytes)
    // InferenceSession is typed as a factory; at run time it is the class of the sessions created.
    const proto = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype
    const release = vi.spyOn(proto, 'release')
    try {
      await expect(loadModel(dir)).rejects.toThrow(/stage_c\.onnx/)
      // Stage B and Stage A loaded beside the failed Stage C; both are released before the error returns.
      expect(release).toHaveBeenCalledTimes(2)
    } finally {
      release.mockRestore()
    }
  })

  it('refuses a directory without a manifest, or with a broken one', async () => {
    const dir = copy()
    writeFileSync(join(dir, 'manifest.json'), '{"schema_version": 1')
    await expect(loadModel(dir)).rejects.toThrow(/manifest\.json: .*JSON/)
    rmSync(join(dir, 'manifest.json'))
    await expect(loadModel(dir)).rejects.toThrow(/no manifest\.json/)
  })
})
