// `cascade tokenize`: a JSON array of prompts on stdin -> their CLIP ids and attention masks (77 each) on stdout.
import { text } from 'node:stream/consumers'
import { z } from 'zod'
import { ClipTokenizer } from '../text/tokenizer.ts'

const Prompts = z.array(z.string())

export async function tokenizeCommand(opts: { tokenizerDir: string }): Promise<void> {
  const tok = ClipTokenizer.fromFiles(opts.tokenizerDir)
  const raw = await text(process.stdin)
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch (e) {
    throw new Error(`stdin is not JSON: ${(e as Error).message}`)
  }
  const prompts = Prompts.safeParse(parsed)
  if (!prompts.success) throw new Error('stdin must be a JSON array of strings (the prompts)')
  const out = prompts.data.map((p) => {
    const e = tok.encode(p)
    return { ids: Array.from(e.inputIds, Number), attention_mask: Array.from(e.attentionMask, Number) }
  })
  process.stdout.write(`${JSON.stringify(out)}\n`)
}
