#!/usr/bin/env node
// `npm run bench`: every benchmark in bench/, one after the other (each prints its own side-by-side ratios).
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'

const only = process.argv[2]
for (const f of readdirSync('bench')
  .filter((f) => f.endsWith('.ts') && (!only || f.includes(only)))
  .sort()) {
  console.log(`\n### bench/${f}`)
  const r = spawnSync('tsx', [`bench/${f}`], { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
