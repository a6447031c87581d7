// Worker thread of noise-thread.ts: computes one draw of seeded noise per message and hands its buffer back.
import { parentPort } from 'node:worker_threads'
import { seededNoise } from './noise.ts'
import type { NoiseReply, NoiseRequest } from './noise-thread.ts'

const port = parentPort
if (!port) throw new Error('noise-worker.ts runs as a worker thread')
port.on('message', (m: NoiseRequest) => {
  let reply: NoiseReply
  try {
    reply = { id: m.id, data: seededNoise(m.seeds).draw(m.stage, m.draw, m.shape) }
  } catch (err) {
    reply = { id: m.id, error: (err as Error).message }
  }
  port.postMessage(reply, 'data' in reply ? [reply.data.buffer as ArrayBuffer] : [])
})
