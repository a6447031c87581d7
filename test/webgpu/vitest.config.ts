import { defineConfig } from 'vitest/config'
import { swiftshaderEnv } from './swiftshader.ts'

// The WebGPU execution provider on SwiftShader's CPU Vulkan driver. The environment is set here, in the process
// that forks the test workers: the dynamic linker and Vulkan's loader read it when a process starts.
Object.assign(process.env, swiftshaderEnv())

export default defineConfig({
  test: {
    include: ['test/webgpu/**/*.test.ts'],
    environment: 'node',
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    maxWorkers: 1,
  },
})
