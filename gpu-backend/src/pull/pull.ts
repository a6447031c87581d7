// `cascade pull`: the files a model variant needs from the Hugging Face Hub (listed, checked for disk space,
// downloaded resumably and verified), then `convert --from` into a model directory. The model directory appears
// only when everything succeeded: the graphs are written to `<out>.partial` and renamed at the end. Downloads
// stay in `<out>.download` until then, so a rerun resumes; they are removed after a successful conversion.
import { existsSync, readdirSync, renameSync, rmSync, statfsSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { HubApiError, type ListFileEntry, listFiles } from '@huggingface/hub'
import { convertModel, type Progress } from '../compiler/convert.ts'
import type { LoraSpec } from '../compiler/lora/lora-file.ts'
import type { Manifest } from '../compiler/manifest.ts'
import type { AttentionKernel, GraphDtype } from '../compiler/onnx/graph.ts'
import { diskProblem, downloadOne, type HubAccess, PullError, presentBytes } from './download.ts'
import { type Plan, type PullModel, planPull, planRepos } from './plan.ts'

export const DEFAULT_HUB_URL = 'https://huggingface.co'

/** Byte progress over the whole download (resumed bytes count as done from the start). */
export interface DownloadProgress {
  start(total: number, done: number): void
  file(path: string): void
  bytes(n: number): void
  stop(): void
}

export interface PullOptions {
  model: PullModel
  variant?: string
  dtype?: GraphDtype
  attention?: AttentionKernel
  outDir: string
  /** Where downloads collect (default `<out>.download`). */
  downloadDir?: string
  keepDownloads?: boolean
  hubUrl?: string
  accessToken?: string
  revision?: string
  loras?: LoraSpec[]
  /** Also write the tile graphs (convert --tiling). */
  tiling?: boolean
  download?: DownloadProgress
  convert?: Progress
}

/** The Hub's answer as the user needs it: a gated repository, a refused token, a missing repository. */
function hubProblem(e: unknown, repo: string, hub: HubAccess): Error {
  if (!(e instanceof HubApiError)) {
    const cause = (e as { cause?: { code?: string } }).cause?.code
    return e instanceof TypeError && /fetch failed/.test(e.message)
      ? new PullError(`cannot reach the Hub at ${hub.hubUrl}${cause ? ` (${cause})` : ''}`)
      : (e as Error)
  }
  const page = `${hub.hubUrl}/${repo}`
  if (e.statusCode === 401)
    return new PullError(
      hub.accessToken
        ? `the Hub refused HF_TOKEN for ${repo} (401): check that the token is valid`
        : `${repo} needs an access token (401: it is gated or private). Accept its licence at ${page}, then set HF_TOKEN to a token of that account`,
    )
  if (e.statusCode === 403)
    return new PullError(
      `the account of HF_TOKEN has no access to ${repo} (403): accept its licence at ${page} with that account`,
    )
  if (e.statusCode === 404)
    return new PullError(`${repo} (revision ${hub.revision}) is not on the Hub at ${hub.hubUrl} (404)`)
  return new PullError(`the Hub answered ${e.statusCode} for ${repo}: ${e.message}`)
}

async function listRepo(repo: string, hub: HubAccess): Promise<ListFileEntry[]> {
  const out: ListFileEntry[] = []
  for await (const e of listFiles({
    repo,
    recursive: true,
    revision: hub.revision,
    hubUrl: hub.hubUrl,
    ...(hub.accessToken ? { accessToken: hub.accessToken } : {}),
  }))
    out.push(e)
  return out
}

/** Free bytes and device of the filesystem that holds `path` (or would: its nearest existing ancestor). */
function filesystem(path: string): { free: number; dev: number; at: string } {
  let at = resolve(path)
  while (!existsSync(at)) at = dirname(at)
  const s = statfsSync(at)
  return { free: s.bavail * s.bsize, dev: statSync(at).dev, at }
}

const gb = (n: number) => `${(n / 1e9).toFixed(2)} GB`

/** Refuses to start when the downloads and the converted graphs cannot fit. */
function checkSpace(plan: Plan, downloadDir: string, outDir: string, dtype: GraphDtype): void {
  const download = plan.files.reduce((n, f) => n + f.size - presentBytes(f, downloadDir), 0)
  // Graph weights: each checkpoint's elements at the graph's precision.
  const graphBytes = { fp32: 4, fp16: 2, int8: 1 }[dtype]
  const model = plan.files.reduce(
    (n, f) => n + (f.elementBytes ? (f.size / f.elementBytes) * graphBytes : f.size),
    0,
  )
  const d = filesystem(downloadDir)
  const o = filesystem(dirname(resolve(outDir)))
  const short = d.dev === o.dev ? download + model > d.free : download > d.free || model > o.free
  if (short)
    throw new PullError(
      `not enough disk space: the download needs ${gb(download)} more in ${downloadDir} (${gb(d.free)} free) and the converted model about ${gb(model)} in ${dirname(resolve(outDir))} (${gb(o.free)} free${d.dev === o.dev ? ', the same disk' : ''})`,
    )
}

export async function pull(options: PullOptions): Promise<Manifest> {
  // Resolved, so that `<out>.download` and `<out>.partial` are siblings of `<out>` even for `--out dir/`.
  const o = { ...options, outDir: resolve(options.outDir) }
  const dtype = o.dtype ?? 'fp16'
  const hub: HubAccess = {
    hubUrl: (o.hubUrl ?? DEFAULT_HUB_URL).replace(/\/+$/, ''),
    revision: o.revision ?? 'main',
    ...(o.accessToken ? { accessToken: o.accessToken } : {}),
  }
  if (existsSync(o.outDir) && readdirSync(o.outDir).length)
    throw new PullError(`${o.outDir} exists and is not empty; remove it or choose another --out`)
  const downloadDir = o.downloadDir ?? `${o.outDir}.download`

  const listings: Record<string, ListFileEntry[]> = {}
  for (const repo of planRepos(o.model, o.variant))
    listings[repo] = await listRepo(repo, hub).catch((e) => {
      throw hubProblem(e, repo, hub)
    })
  const plan = planPull(o.model, o.variant, dtype, listings)
  checkSpace(plan, downloadDir, o.outDir, dtype)

  const total = plan.files.reduce((n, f) => n + f.size, 0)
  o.download?.start(
    total,
    plan.files.reduce((n, f) => n + presentBytes(f, downloadDir), 0),
  )
  try {
    for (const f of plan.files) {
      o.download?.file(f.path)
      await downloadOne(f, downloadDir, hub, (n) => o.download?.bytes(n)).catch((e) => {
        throw hubProblem(e, f.repo, hub)
      })
    }
  } finally {
    o.download?.stop()
  }
  return convertInto(plan, downloadDir, o, dtype)
}

async function convertInto(
  plan: Plan,
  downloadDir: string,
  o: PullOptions,
  dtype: GraphDtype,
): Promise<Manifest> {
  const partial = `${o.outDir}.partial`
  rmSync(partial, { recursive: true, force: true })
  let manifest: Manifest
  try {
    manifest = await convertModel({
      family: plan.family,
      from: downloadDir,
      outDir: partial,
      variant: plan.variant,
      dtype,
      ...(o.attention ? { attention: o.attention } : {}),
      ...(o.loras ? { loras: o.loras } : {}),
      ...(o.tiling ? { tiling: true } : {}),
      ...(o.convert ? { progress: o.convert } : {}),
    })
  } catch (e) {
    rmSync(partial, { recursive: true, force: true })
    const disk = diskProblem(e, partial)
    throw disk
      ? new PullError(`${disk}; the downloads are kept in ${downloadDir}, free some space and run again`)
      : e
  }
  rmSync(o.outDir, { recursive: true, force: true })
  renameSync(partial, o.outDir)
  if (!o.keepDownloads) rmSync(downloadDir, { recursive: true, force: true })
  return manifest
}
