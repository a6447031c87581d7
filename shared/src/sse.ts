// Server-Sent Events framing, shared by the edge (jobs API, backend client) and the backend (its stream).

export interface SseMessage {
  event: string
  data: string
}

/** One SSE message; `data` is JSON-encoded on one line. */
export function formatSse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

/** Incremental parser: feed decoded text chunks, get complete messages. Comments and `id:`/`retry:` are ignored. */
export class SseParser {
  #buffer = ''
  #event = ''
  #data: string[] = []

  push(chunk: string): SseMessage[] {
    this.#buffer += chunk
    const out: SseMessage[] = []
    let nl = this.#buffer.search(/\r\n|\r|\n/)
    while (nl >= 0) {
      const line = this.#buffer.slice(0, nl)
      const sep = this.#buffer.startsWith('\r\n', nl) ? 2 : 1
      this.#buffer = this.#buffer.slice(nl + sep)
      this.#line(line, out)
      nl = this.#buffer.search(/\r\n|\r|\n/)
    }
    return out
  }

  #line(line: string, out: SseMessage[]): void {
    if (line === '') {
      if (this.#data.length) out.push({ event: this.#event || 'message', data: this.#data.join('\n') })
      this.#event = ''
      this.#data = []
      return
    }
    if (line.startsWith(':')) return
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') this.#event = value
    else if (field === 'data') this.#data.push(value)
  }
}
