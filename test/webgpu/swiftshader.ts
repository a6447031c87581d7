// SwiftShader's Vulkan driver, from the npm package @sparticuz/chromium (no system package, nothing downloaded),
// gives onnxruntime's WebGPU provider a CPU adapter, so the WebGPU path runs in CI. Test-only: VK_ICD_FILENAMES
// hides any real GPU, so it is never set in production.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { brotliDecompressSync } from 'node:zlib'

const root = resolve(import.meta.dirname, '..', '..')
const DIR = join(root, '.cache', 'swiftshader')
const ICD = join(DIR, 'vk_swiftshader_icd.json')

/** Unpacks the driver once; returns the environment a process needs to use it (set before it starts). */
export function swiftshaderEnv(): Record<string, string> {
  if (!existsSync(ICD)) {
    const pkg = dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium/package.json'))
    const tarball = brotliDecompressSync(readFileSync(join(pkg, 'bin', 'swiftshader.tar.br')))
    mkdirSync(DIR, { recursive: true })
    const r = spawnSync('tar', ['x', '-C', DIR], { input: tarball })
    if (r.status !== 0 || !existsSync(ICD)) throw new Error(`unpacking SwiftShader failed: ${r.stderr}`)
  }
  // The loader (libvulkan.so.1) comes with it; the dynamic linker reads LD_LIBRARY_PATH when a process starts.
  return {
    VK_ICD_FILENAMES: ICD,
    LD_LIBRARY_PATH: [DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
  }
}
