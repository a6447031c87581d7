// The tiny models the WebGPU suite runs: make-tiny of each family, built once per test file.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeTiny } from '../../gpu-backend/src/compiler/make-tiny.ts'
import type { Family } from '../../gpu-backend/src/compiler/manifest.ts'

export const FAMILIES: Family[] = ['stable-cascade', 'wuerstchen-v2']

const built = new Map<string, Promise<string>>()

export function tinyModel(family: Family, dtype: 'fp32' | 'fp16' = 'fp32'): Promise<string> {
  const key = `${family}:${dtype}`
  let dir = built.get(key)
  if (!dir) {
    const out = mkdtempSync(join(tmpdir(), `webgpu-${family}-`))
    dir = makeTiny({ family, outDir: out, seed: 5, ...(dtype === 'fp16' ? { dtype } : {}) }).then(() => out)
    built.set(key, dir)
  }
  return dir
}
