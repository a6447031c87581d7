// Image storage: R2 holds every image under `<key>.<ext>` (written only by the GenerationCoordinator, only for a
// complete image); the Cache API fronts it, keyed by the public image URL.
import { CONTENT_TYPES, type OutputFormat } from '../../../shared/src/index.ts'

export const IMMUTABLE = 'public, max-age=31536000, immutable'

export const objectName = (key: string, ext: OutputFormat) => `${key}.${ext}`
export const imagePath = (key: string, ext: OutputFormat) => `/v1/images/${key}.${ext}`
const cacheRequest = (origin: string, key: string, ext: OutputFormat) =>
  new Request(origin + imagePath(key, ext))

export function imageResponse(key: string, ext: OutputFormat, body: BodyInit): Response {
  return new Response(body, {
    headers: { 'Content-Type': CONTENT_TYPES[ext], 'Cache-Control': IMMUTABLE, ETag: `"${key}"` },
  })
}

export async function putR2(
  bucket: R2Bucket,
  key: string,
  ext: OutputFormat,
  bytes: Uint8Array,
  seed: number,
) {
  await bucket.put(objectName(key, ext), bytes, {
    httpMetadata: { contentType: CONTENT_TYPES[ext], cacheControl: IMMUTABLE },
    customMetadata: { seed: String(seed) },
  })
}

export async function putCache(
  origin: string,
  key: string,
  ext: OutputFormat,
  bytes: Uint8Array,
): Promise<void> {
  await caches.default.put(cacheRequest(origin, key, ext), imageResponse(key, ext, bytes))
}

// Keys are content addresses and images are never deleted by this service, so "exists" is immutable and can be
// remembered per isolate (bounded, oldest dropped first). A cache hit then costs no storage round trip at all.
const KNOWN_MAX = 10_000
const known = new Set<string>()
const remember = (name: string) => {
  if (known.size >= KNOWN_MAX) known.delete(known.values().next().value as string)
  known.add(name)
}

/** Whether the image exists (isolate memo, Cache API, then R2 head); no body is read. */
export async function imageExists(bucket: R2Bucket, origin: string, key: string, ext: OutputFormat) {
  const name = objectName(key, ext)
  if (known.has(name)) return true
  const found = await lookup(bucket, origin, key, ext)
  if (found) remember(name)
  return found
}

async function lookup(bucket: R2Bucket, origin: string, key: string, ext: OutputFormat) {
  const cached = await caches.default.match(cacheRequest(origin, key, ext))
  if (cached) {
    await cached.body?.cancel()
    return true
  }
  return (await bucket.head(objectName(key, ext))) !== null
}

// Hot images are also kept in isolate memory: content-addressed bytes never change, and a Cache API lookup is a
// round trip per request. Bounded by bytes; Map order is recency (a hit moves the entry to the end).
const HOT_MAX_BYTES = 32 * 1024 * 1024
const hot = new Map<string, ArrayBuffer>()
let hotBytes = 0
function keepHot(name: string, bytes: ArrayBuffer): void {
  if (bytes.byteLength > HOT_MAX_BYTES / 8 || hot.has(name)) return
  hot.set(name, bytes)
  hotBytes += bytes.byteLength
  for (const [k, v] of hot) {
    if (hotBytes <= HOT_MAX_BYTES) break
    hot.delete(k)
    hotBytes -= v.byteLength
  }
}

/** The image bytes: isolate memory, Cache API, else R2 (then filled into the cache via waitUntil). */
export async function readImage(
  bucket: R2Bucket,
  origin: string,
  key: string,
  ext: OutputFormat,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<{ body: ArrayBuffer; source: 'cache' | 'r2' } | null> {
  const name = objectName(key, ext)
  const mem = hot.get(name)
  if (mem) {
    hot.delete(name)
    hot.set(name, mem)
    return { body: mem, source: 'cache' }
  }
  const cached = await caches.default.match(cacheRequest(origin, key, ext))
  if (cached?.body) {
    const bytes = await cached.arrayBuffer()
    keepHot(name, bytes)
    return { body: bytes, source: 'cache' }
  }
  const obj = await bucket.get(name)
  if (!obj) return null
  const bytes = await obj.arrayBuffer()
  keepHot(name, bytes)
  waitUntil(putCache(origin, key, ext, new Uint8Array(bytes)))
  return { body: bytes, source: 'r2' }
}
