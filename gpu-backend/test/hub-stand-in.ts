// A local stand-in for the Hugging Face Hub's HTTP API, as @huggingface/hub calls it (`hubUrl`): the recursive tree
// listing (`/api/models/<repo>/tree/<rev>`, with Git blob ids and LFS sha256 oids) and `/<repo>/resolve/<rev>/<path>`
// with byte ranges. A gated repository lists its files to anyone but answers downloads without its token with 401,
// as the Hub does. Faults on demand: a connection cut after some
// bytes, corrupted bytes, and a listed size the disk cannot hold. It records every download request.
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface StandInRepo {
  files: Map<string, Buffer>
  /** Token a download must carry (`Authorization: Bearer …`), as for a gated repository. */
  token?: string
}

export interface HubRequest {
  repo: string
  path: string
  range: string | undefined
}

/** Files the Hub keeps in Git LFS (listed with a sha256 oid); the others are plain Git blobs. */
const isLfs = (path: string) => /\.(safetensors|bin)$/.test(path)

export class HubStandIn {
  readonly repos = new Map<string, StandInRepo>()
  readonly requests: HubRequest[] = []
  /** path -> bytes after which the next download of it is cut (once). */
  readonly cutAfter = new Map<string, number>()
  /** paths served with one byte flipped (until removed). */
  readonly corrupt = new Set<string>()
  /** path -> size the listing claims instead of the real one. */
  readonly listedSize = new Map<string, number>()
  private server?: Server
  url = ''

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res))
    await new Promise<void>((done) => this.server?.listen(0, '127.0.0.1', done))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this.url
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections()
    await new Promise((done) => this.server?.close(done))
  }

  private refuse(res: ServerResponse, status: number, error: string, code?: string): void {
    res.writeHead(status, { 'Content-Type': 'application/json', ...(code ? { 'X-Error-Code': code } : {}) })
    res.end(JSON.stringify({ error }))
  }

  /** The repository of a request, or undefined once the request has been answered (404, 401). */
  private repoFor(
    name: string,
    req: IncomingMessage,
    res: ServerResponse,
    download: boolean,
  ): StandInRepo | undefined {
    const repo = this.repos.get(name)
    if (!repo) {
      this.refuse(res, 404, 'Repository not found', 'RepoNotFound')
      return undefined
    }
    if (download && repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      this.refuse(
        res,
        401,
        `Access to model ${name} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
        'GatedRepo',
      )
      return undefined
    }
    return repo
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://hub')
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)\/?$/.exec(url.pathname)
    if (tree) {
      const repo = this.repoFor(decodeURIComponent(tree[1] as string), req, res, false)
      if (repo) this.list(repo, res)
      return
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname)
    if (resolve) {
      const name = decodeURIComponent(resolve[1] as string)
      const repo = this.repoFor(name, req, res, true)
      if (repo) this.serve(name, repo, decodeURIComponent(resolve[3] as string), req, res)
      return
    }
    this.refuse(res, 404, 'not found')
  }

  private list(repo: StandInRepo, res: ServerResponse): void {
    const dirs = new Set<string>()
    const entries: object[] = []
    for (const [path, data] of repo.files) {
      const parts = path.split('/')
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'))
      const size = this.listedSize.get(path) ?? data.length
      const blob = createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex')
      entries.push(
        isLfs(path)
          ? {
              type: 'file',
              path,
              size,
              oid: blob,
              lfs: { oid: createHash('sha256').update(data).digest('hex'), size, pointerSize: 134 },
            }
          : { type: 'file', path, size, oid: blob },
      )
    }
    for (const d of dirs) entries.push({ type: 'directory', path: d, size: 0, oid: '0'.repeat(40) })
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify(entries))
  }

  private serve(
    name: string,
    repo: StandInRepo,
    path: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    const original = repo.files.get(path)
    if (!original) {
      this.refuse(res, 404, 'Entry not found', 'EntryNotFound')
      return
    }
    const data = Buffer.from(original)
    if (this.corrupt.has(path) && data.length)
      data[data.length >> 1] = ((data[data.length >> 1] as number) ^ 0xff) & 0xff
    const range = req.headers.range
    this.requests.push({ repo: name, path, range })
    const etag = `"${isLfs(path) ? createHash('sha256').update(original).digest('hex') : 'git'}"`
    const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null
    const from = m ? Number(m[1]) : 0
    const to = m?.[2] ? Math.min(Number(m[2]), data.length - 1) : data.length - 1
    const body = data.subarray(from, to + 1)
    res.writeHead(m ? 206 : 200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(body.length),
      'Accept-Ranges': 'bytes',
      ETag: etag,
      ...(isLfs(path) ? { 'X-Linked-ETag': etag, 'X-Linked-Size': String(data.length) } : {}),
      ...(m ? { 'Content-Range': `bytes ${from}-${to}/${data.length}` } : {}),
    })
    // The size probe (bytes=0-0) is never cut; the next real download is.
    const cut = range === 'bytes=0-0' ? undefined : this.cutAfter.get(path)
    if (cut === undefined || cut >= body.length) {
      res.end(body)
      return
    }
    this.cutAfter.delete(path)
    res.write(body.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 20))
  }
}
