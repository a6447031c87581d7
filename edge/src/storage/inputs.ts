// Input images in R2 under `inputs/<sha256>`: content-addressed, so each is stored once however many requests
// use it. Written only for a request that passed every check and was charged (a generation that misses the
// cache); the generation coordinators read them back for the backend call. An input the backend could not decode
// is deleted: no request can ever use those bytes.
import { INPUT_FORMATS, readImageHeader } from '../../../shared/src/index.ts'

export const inputObject = (sha256: string) => `inputs/${sha256}`

const contentType = (bytes: Uint8Array) => {
  const format = readImageHeader(bytes)?.format
  return format && INPUT_FORMATS.includes(format) ? `image/${format}` : 'application/octet-stream'
}

/** Stores each input not stored yet. */
export async function storeInputs(bucket: R2Bucket, inputs: ReadonlyMap<string, Uint8Array>): Promise<void> {
  await Promise.all(
    [...inputs].map(async ([sha256, bytes]) => {
      if (await bucket.head(inputObject(sha256))) return
      await bucket.put(inputObject(sha256), bytes, {
        httpMetadata: { contentType: contentType(bytes) },
        sha256,
      })
    }),
  )
}

/** The bytes of each input, and the hashes of those not stored (deleted after a backend refused them). */
export async function loadInputs(
  bucket: R2Bucket,
  hashes: readonly string[],
): Promise<{ inputs: Map<string, Uint8Array>; missing: string[] }> {
  const inputs = new Map<string, Uint8Array>()
  const missing: string[] = []
  await Promise.all(
    hashes.map(async (h) => {
      const obj = await bucket.get(inputObject(h))
      if (obj) inputs.set(h, new Uint8Array(await obj.arrayBuffer()))
      else missing.push(h)
    }),
  )
  return { inputs, missing }
}

export async function dropInputs(bucket: R2Bucket, hashes: readonly string[]): Promise<void> {
  if (hashes.length) await bucket.delete(hashes.map(inputObject))
}
