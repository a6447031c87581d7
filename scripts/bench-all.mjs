#!/usr/bin/env node
// `npm run bench`: every benchmark in bench/, one after the other (each prints its own side-by-side figures and
// hands its ratios to bench/lib/report.ts), then bench/results.md: one table of every ratio with the machine.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'

const only = process.argv[2]
const benches = readdirSync('bench')
  .filter((f) => f.endsWith('.ts') && (!only || f.includes(only)))
  .sort()
const results = []
for (const f of benches) {
  console.log(`\n### bench/${f}`)
  const name = f.replace(/\.ts$/, '')
  rmSync(`bench/out/${name}.json`, { force: true })
  const r = spawnSync('tsx', [`bench/${f}`], { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
  if (existsSync(`bench/out/${name}.json`))
    results.push(JSON.parse(readFileSync(`bench/out/${name}.json`, 'utf8')))
}
if (only) process.exit(0)

const ort = JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')).version
const cpus = os.cpus()
const lines = [
  '# Benchmark results',
  '',
  `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. Each ratio compares two measurements taken`,
  'side by side in the same run on the same machine; absolute times are in the detail column.',
  '',
  `Machine: ${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB,`,
  `${os.type()} ${os.release()}; Node ${process.version}; onnxruntime-node ${ort} (CPU execution provider).`,
  '',
  '| benchmark | measure | ratio | target | detail |',
  '|---|---|---|---|---|',
  ...results.flatMap((r) =>
    r.ratios.map(
      (x) => `| ${r.bench} | ${x.measure} | ${x.ratio.toFixed(2)} | ${x.target ?? '—'} | ${x.detail} |`,
    ),
  ),
  '',
]
writeFileSync('bench/results.md', lines.join('\n'))
console.log('\nwrote bench/results.md')
