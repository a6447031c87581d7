// One Hub file into the download folder: resumable (a `.part` file grows across runs; a rerun asks only for the
// missing range), checked against the Hub's hash before it takes its final name, so a file under its final name is
// always a verified one. Plain HTTP ranges on the resolve URL (`xet: false`): a Xet-backed file is served the same way.
import { createHash } from 'node:crypto'
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { downloadFile } from '@huggingface/hub'
import type { PlannedFile } from './plan.ts'

export class PullError extends Error {}

export interface HubAccess {
  hubUrl: string
  accessToken?: string
  revision: string
}

/** sha256 of the content, or Git's blob id (sha1 over "blob <size>\0" + content). */
async function digest(path: string, kind: 'sha256' | 'git'): Promise<string> {
  const h = createHash(kind === 'sha256' ? 'sha256' : 'sha1')
  if (kind === 'git') h.update(`blob ${statSync(path).size}\0`)
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

const sizeOf = (path: string) => (existsSync(path) ? statSync(path).size : 0)

/** Bytes of `f` already in the download folder (verified, or a partial download to resume). */
export function presentBytes(f: PlannedFile, dir: string): number {
  const final = join(dir, f.local)
  return sizeOf(final) === f.size ? f.size : Math.min(sizeOf(`${final}.part`), f.size)
}

/** Message for an error a disk write raised (ENOSPC above all), else undefined. */
export function diskProblem(e: unknown, where: string): string | undefined {
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOSPC') return `the disk is full (writing ${where})`
  if (code === 'EDQUOT') return `the disk quota is exhausted (writing ${where})`
  return undefined
}

export async function downloadOne(
  f: PlannedFile,
  dir: string,
  hub: HubAccess,
  onBytes: (n: number) => void,
): Promise<void> {
  const final = join(dir, f.local)
  if (sizeOf(final) === f.size) return
  const part = `${final}.part`
  mkdirSync(dirname(final), { recursive: true })
  let offset = sizeOf(part)
  if (offset > f.size) {
    rmSync(part)
    offset = 0
  }
  if (offset < f.size) {
    const blob = await downloadFile({
      repo: f.repo,
      path: f.path,
      revision: hub.revision,
      hubUrl: hub.hubUrl,
      xet: false,
      ...(hub.accessToken ? { accessToken: hub.accessToken } : {}),
    })
    if (!blob) throw new PullError(`${f.repo}: ${f.path} is not on the Hub (revision ${hub.revision})`)
    const body = (offset ? blob.slice(offset) : blob).stream() as unknown as WebReadableStream<Uint8Array>
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        onBytes(chunk.length)
        done(null, chunk)
      },
    })
    try {
      await pipeline(Readable.fromWeb(body), count, createWriteStream(part, { flags: 'a' }))
    } catch (e) {
      const disk = diskProblem(e, part)
      if (disk) throw new PullError(`${disk}; free some space and run the same command again to resume`)
      throw new PullError(
        `the download of ${f.repo}/${f.path} was interrupted at ${sizeOf(part)} of ${f.size} bytes (${(e as Error).message}); run the same command again to resume`,
      )
    }
  }
  const got = sizeOf(part)
  if (got !== f.size) {
    if (got > f.size) rmSync(part)
    throw new PullError(
      got < f.size
        ? `the download of ${f.repo}/${f.path} ended at ${got} of ${f.size} bytes; run the same command again to resume`
        : `${f.repo}/${f.path}: got ${got} bytes, the Hub lists ${f.size}; the partial file was removed, run the same command again`,
    )
  }
  const [kind, expected] = f.sha256 ? (['sha256', f.sha256] as const) : (['git', f.gitOid] as const)
  if (expected) {
    const actual = await digest(part, kind)
    if (actual !== expected) {
      rmSync(part)
      throw new PullError(
        `${f.repo}/${f.path} is corrupt: its ${kind === 'sha256' ? 'sha256' : 'Git blob id'} is ${actual}, the Hub lists ${expected}; the file was removed, run the same command again to download it afresh`,
      )
    }
  }
  renameSync(part, final)
}
