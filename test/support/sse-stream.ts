// Reading an event stream from fetch, for tests that talk SSE to the backend or the edge.
import { type SseMessage, SseParser } from '../../shared/src/index.ts'

/** The messages of an event stream as they arrive; ends with the stream, or quietly when it is aborted. */
async function* sseMessages(res: Response): AsyncGenerator<SseMessage> {
  const parser = new SseParser()
  const decoder = new TextDecoder()
  try {
    for await (const chunk of res.body as ReadableStream<Uint8Array>)
      yield* parser.push(decoder.decode(chunk, { stream: true }))
  } catch {}
}

/** An event stream's messages until it ends (or the request is aborted), each also handed to `onMessage`. */
export async function readEvents(
  res: Response,
  onMessage: (m: SseMessage) => void = () => {},
): Promise<SseMessage[]> {
  const all: SseMessage[] = []
  for await (const m of sseMessages(res)) {
    all.push(m)
    onMessage(m)
  }
  return all
}
