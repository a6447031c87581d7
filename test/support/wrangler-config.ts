// The root wrangler.toml, resized for a test or a benchmark and written to a temporary directory: its `main` made
// absolute, every [[ratelimits]] limit set to `rateLimit`, and the jobs queue either given other numbers or left
// out altogether (`jobsQueue: false`: jobs dispatch at once and a busy pool fails them, the edge without Queues).
// Each edit checks that it found what it edits, so a change to wrangler.toml cannot silently undo it.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, tempDir } from './processes.ts'

export interface ConfigOptions {
  rateLimit?: number
  jobsQueue?: false | { maxRetries?: number; maxBatchSize?: number; maxBatchTimeout?: number }
}

function edit(text: string, pattern: RegExp, replacement: string, what: string): string {
  if (!pattern.test(text)) throw new Error(`wrangler.toml: ${what} not found`)
  return text.replace(pattern, replacement)
}

/** Writes the resized copy and returns its path. */
export function wranglerConfig(o: ConfigOptions): string {
  let toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')
  toml = edit(toml, /^main = "(.+)"$/m, `main = "${join(ROOT, 'edge/src/index.ts')}"`, 'main')
  if (o.rateLimit !== undefined)
    toml = edit(toml, /simple = \{ limit = \d+/g, `simple = { limit = ${o.rateLimit}`, 'ratelimits')
  if (o.jobsQueue === false)
    toml = edit(
      toml,
      /^\[\[queues\.(producers|consumers)\]\]\n(?:(?!\[)[^\n]*\n)*/gm,
      '',
      'the queues sections',
    )
  else if (o.jobsQueue) {
    const { maxRetries, maxBatchSize, maxBatchTimeout } = o.jobsQueue
    // The first consumer is the jobs queue's (the second, its dead-letter queue's).
    if (maxRetries !== undefined)
      toml = edit(toml, /^max_retries = \d+$/m, `max_retries = ${maxRetries}`, 'max_retries')
    if (maxBatchSize !== undefined)
      toml = edit(toml, /^max_batch_size = \d+$/m, `max_batch_size = ${maxBatchSize}`, 'max_batch_size')
    if (maxBatchTimeout !== undefined)
      toml = edit(
        toml,
        /^max_batch_timeout = \d+$/m,
        `max_batch_timeout = ${maxBatchTimeout}`,
        'max_batch_timeout',
      )
  }
  const path = join(tempDir('wrangler-config-'), 'wrangler.toml')
  writeFileSync(path, toml)
  return path
}
