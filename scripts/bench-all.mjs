#!/usr/bin/env node
// `npm run bench`: every benchmark in bench/, one after the other (each prints its own side-by-side figures and
// hands its ratios to bench/lib/report.ts), then bench/results.md: one table of every ratio with the machine.
// `npm run bench <name>` runs the benchmarks whose file name contains <name> and replaces only their rows in
// bench/results.md, keeping every other row (and noting the partial run under the table's header); with --no-run it
// takes their last bench/out/<name>.json instead of running them (a long benchmark cut short keeps what it measured).
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'

const only = process.argv[2]
const noRun = Boolean(only) && process.argv.includes('--no-run')
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
/** Ratios as 2 decimals; small ones (relative errors) in exponent form. */
const fmt = (v) => (v !== 0 && Math.abs(v) < 0.1 ? v.toExponential(2) : v.toFixed(2))
const row = (bench, x) => `| ${bench} | ${x.measure} | ${fmt(x.ratio)} | ${x.target ?? '—'} | ${x.detail} |`
const today = new Date().toISOString().slice(0, 10)

if (only) {
  if (!results.length || !existsSync('bench/results.md')) process.exit(0)
  const ran = new Set(results.map((r) => r.bench))
  const lines = readFileSync('bench/results.md', 'utf8').trimEnd().split('\n')
  const isRow = (l) => /^\| [\w-]+ \|/.test(l) && !l.startsWith('| benchmark |')
  const rows = lines.filter(isRow).filter((l) => !ran.has(l.split(' | ')[0].slice(2)))
  rows.push(...results.flatMap((r) => r.ratios.map((x) => row(r.bench, x))))
  // Stable: each benchmark's rows stay in their own order, benchmarks in file-name order as a full run writes them.
  rows.sort((a, b) => a.split(' | ')[0].localeCompare(b.split(' | ')[0]))
  const header = lines.slice(
    0,
    lines.findIndex((l) => l.startsWith('| benchmark |')),
  )
  const notes = header.filter(
    (l) => !(l.startsWith('Rows of ') && [...ran].some((b) => l.includes(`\`${b}\``))),
  )
  const note = `Rows of ${[...ran].map((b) => `\`${b}\``).join(', ')}: \`npm run bench ${process.argv.slice(2).join(' ')}\` on ${today}, same machine.`
  while (notes.at(-1) === '') notes.pop()
  notes.push('', note, '')
  const table = ['| benchmark | measure | ratio | target | detail |', '|---|---|---|---|---|', ...rows, '']
  writeFileSync(
    'bench/results.md',
    [...notes.filter((l, i, a) => !(l === '' && a[i - 1] === '')), ...table].join('\n'),
  )
  console.log(`\nupdated the rows of ${[...ran].join(', ')} in bench/results.md`)
  process.exit(0)
}

const ort = JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')).version
const cpus = os.cpus()
const lines = [
  '# Benchmark results',
  '',
  `Written by \`npm run bench\` on ${today}. Each ratio compares two measurements taken`,
  'side by side in the same run on the same machine; absolute times are in the detail column.',
  '',
  `Machine: ${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB,`,
  `${os.type()} ${os.release()}; Node ${process.version}; onnxruntime-node ${ort} (CPU execution provider).`,
  '',
  '| benchmark | measure | ratio | target | detail |',
  '|---|---|---|---|---|',
  ...results.flatMap((r) => r.ratios.map((x) => row(r.bench, x))),
  '',
]
writeFileSync('bench/results.md', lines.join('\n'))
console.log('\nwrote bench/results.md')
