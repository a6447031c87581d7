// Each benchmark prints its own table and hands its ratios here; `npm run bench` gathers them into
// bench/results.md (scripts/bench-all.mjs).
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Ratio {
  /** What was compared, e.g. "pipeline wall / Σ session.run (tiny SC)". */
  measure: string
  ratio: number
  /** The two sides, in words and numbers. */
  detail: string
  /** The target as text, e.g. "≤ 1.03"; omitted where the issue sets none. */
  target?: string
}

const OUT = join(import.meta.dirname, '..', 'out')

export function report(bench: string, ratios: Ratio[]): void {
  mkdirSync(OUT, { recursive: true })
  writeFileSync(join(OUT, `${bench}.json`), `${JSON.stringify({ bench, ratios }, null, 1)}\n`)
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
