#!/usr/bin/env node
// `npm run bench`: every benchmark in bench/, one after the other (each prints its own side-by-side figures and
// hands its ratios to bench/lib/report.ts), then bench/results.md: one table of every ratio with the machine.
// `npm run bench -- <name> --update` runs the benchmarks whose file names contain <name> and replaces only their
// rows in bench/results.md (the other rows stay as the last full run wrote them); with --no-run it takes their
// last bench/out/<name>.json instead of running them (a long benchmark cut short keeps what it measured there).
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'

const only = process.argv[2]
const update = process.argv.includes('--update')
const noRun = update && process.argv.includes('--no-run')
const benches = readdirSync('bench')
  .filter((f) => f.endsWith('.ts') && (!only || f.includes(only)))
  .sort()
const results = []
for (const f of benches) {
  console.log(`\n### bench/${f}`)
  const name = f.replace(/\.ts$/, '')
  if (!noRun) {
    rmSync(`bench/out/${name}.json`, { force: true })
    const r = spawnSync('tsx', [`bench/${f}`], { stdio: 'inherit' })
    if (r.status !== 0) process.exit(r.status ?? 1)
  }
  if (existsSync(`bench/out/${name}.json`))
    results.push(JSON.parse(readFileSync(`bench/out/${name}.json`, 'utf8')))
}
if (only && !update) process.exit(0)

// Rows of the benchmarks not run now, kept from the existing file (--update).
const ran = new Set(results.map((r) => r.bench))
const previous =
  update && existsSync('bench/results.md') ? readFileSync('bench/results.md', 'utf8').split('\n') : []
const kept = previous.filter(
  (l) => /^\| [\w-]+ \|/.test(l) && !l.startsWith('| benchmark |') && !ran.has(l.split(' | ')[0].slice(2)),
)
const at = previous.findIndex((l) => l.startsWith('Machine: '))
/** When and where the kept rows were measured. */
const keptMachine =
  at >= 0 ? `${previous[at]} ${previous[at + 1]}`.replace(/^Machine: /, '') : 'unknown machine'
const keptDate =
  previous.map((l) => /^Written by .* on (\d{4}-\d\d-\d\d)\./.exec(l)?.[1]).find(Boolean) ?? 'unknown'
/** Ratios as 2 decimals; small ones (relative errors) in exponent form. */
const fmt = (v) => (v !== 0 && Math.abs(v) < 0.1 ? v.toExponential(2) : v.toFixed(2))
const ort = JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')).version
const cpus = os.cpus()
const machine = `${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}; Node ${process.version}; onnxruntime-node ${ort} (CPU execution provider).`
const keptBenches = [...new Set(kept.map((l) => l.split(' | ')[0].slice(2)))]
const lines = [
  '# Benchmark results',
  '',
  `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. Each ratio compares two measurements taken`,
  'side by side in the same run on the same machine; absolute times are in the detail column.',
  '',
  `Machine: ${machine.replace(' GiB, ', ' GiB,\n')}`,
  ...(kept.length
    ? ['', `The rows of ${keptBenches.join(', ')} are from the run of ${keptDate} on: ${keptMachine}`]
    : []),
  '',
  '| benchmark | measure | ratio | target | detail |',
  '|---|---|---|---|---|',
  ...kept,
  ...results.flatMap((r) =>
    r.ratios.map((x) => `| ${r.bench} | ${x.measure} | ${fmt(x.ratio)} | ${x.target ?? '—'} | ${x.detail} |`),
  ),
  '',
]
writeFileSync('bench/results.md', lines.join('\n'))
console.log('\nwrote bench/results.md')
