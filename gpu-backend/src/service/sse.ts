// An event-stream response body in shared's SSE wire format, with keep-alive comments so the edge's idle
// timeout does not fire while a job waits in the queue.
import { formatSse } from '../../../shared/src/index.ts'

export interface EventStream {
  readonly body: ReadableStream<Uint8Array>
  send(event: string, data: unknown): void
  close(): void
}

const encoder = new TextEncoder()

export function eventStream(onCancel: () => void, keepAliveMs = 15_000): EventStream {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let open = true
  const write = (text: string) => {
    if (open) controller.enqueue(encoder.encode(text))
  }
  const timer = setInterval(() => write(': keep-alive\n\n'), keepAliveMs)
  const stop = () => {
    open = false
    clearInterval(timer)
  }
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
    },
    cancel() {
      stop()
      onCancel()
    },
  })
  return {
    body,
    send: (event, data) => write(formatSse(event, data)),
    close() {
      if (!open) return
      stop()
      controller.close()
    },
  }
}
