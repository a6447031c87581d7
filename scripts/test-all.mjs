#!/usr/bin/env node
// Runs every suite (typecheck, lint, each vitest project) and sums them into the one line CI reads.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'

const suites = [
  { name: 'typecheck (node)', cmd: ['tsc', '--noEmit', '-p', 'tsconfig.json'] },
  {
    name: 'typecheck (edge)',
    cmd: ['tsc', '--noEmit', '-p', 'edge/tsconfig.json'],
    when: 'edge/tsconfig.json',
  },
  { name: 'lint', cmd: ['biome', 'check', '.'] },
  { name: 'shared + backend', vitest: 'gpu-backend/vitest.config.ts' },
  { name: 'golden parity', vitest: 'test/vitest.golden.config.ts' },
  { name: 'edge (workerd)', vitest: 'edge/vitest.config.ts' },
  { name: 'end-to-end', vitest: 'test/vitest.e2e.config.ts' },
  { name: 'chaos (edge, workerd)', vitest: 'test/chaos/vitest.edge.config.ts' },
  { name: 'chaos (backend, faults)', vitest: 'test/chaos/vitest.node.config.ts' },
  { name: 'browser', vitest: 'test/browser/vitest.config.ts' },
  // The WebGPU execution provider on SwiftShader (a CPU Vulkan driver from npm): graph parity, generations.
  { name: 'webgpu (SwiftShader)', vitest: 'test/webgpu/vitest.config.ts' },
]

const only = process.argv.slice(2)
mkdirSync('.tmp', { recursive: true })
let passed = 0
let failed = 0
for (const s of suites) {
  if (only.length && !only.some((o) => s.name.includes(o))) continue
  const file = s.vitest ?? s.when
  if (file && !existsSync(file)) continue
  console.log(`\n=== ${s.name} ===`)
  if (s.vitest) {
    const out = `.tmp/vitest-${s.name.replace(/\W+/g, '-')}.json`
    rmSync(out, { force: true })
    const r = spawnSync(
      'vitest',
      ['run', '--config', s.vitest, '--reporter=default', '--reporter=json', `--outputFile=${out}`],
      {
        stdio: 'inherit',
      },
    )
    if (existsSync(out)) {
      const j = JSON.parse(readFileSync(out, 'utf8'))
      passed += j.numPassedTests
      // A run that failed outside any test (a file that does not load) counts as one failure.
      failed += j.numFailedTests + (r.status !== 0 && j.numFailedTests === 0 ? 1 : 0)
      console.log(`--- ${s.name}: ${j.numPassedTests} passed, ${j.numFailedTests} failed`)
    } else {
      failed += 1
      console.log(`--- ${s.name}: did not report (exit ${r.status})`)
    }
  } else {
    const r = spawnSync(s.cmd[0], s.cmd.slice(1), { stdio: 'inherit' })
    if (r.status === 0) passed += 1
    else failed += 1
    console.log(`--- ${s.name}: ${r.status === 0 ? 'ok' : 'FAILED'}`)
  }
}
console.log(`\n${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
