// Prompt normalization: the text cleaning the CLIP tokenizer (openai/CLIP simple_tokenizer.py) applies before BPE,
// so that two prompts that tokenize the same share one request key, and the backend tokenizes exactly what
// simple_tokenizer would.
//
//   simple_tokenizer: ftfy.fix_text -> html.unescape x2 -> strip -> collapse whitespace -> strip -> lower
//
// ftfy.fix_text (6.3.1, default configuration) is ported in text-fix/, mojibake repair included, and html.unescape
// follows Python's; the result equals simple_tokenizer's cleaned text on every golden prompt. Runtime-neutral (it
// runs in the edge Worker and in Node).
import { fixText } from './text-fix/fix-text.ts'
import { htmlUnescape } from './text-fix/html-unescape.ts'
import { PY_SPACE } from './text-fix/python-chars.ts'

export { fixText }

// Python's `\s`, which is what simple_tokenizer collapses and strips.
const WHITESPACE = new RegExp(`${PY_SPACE}+`, 'gu')
const EDGE_SPACE = /^ | $/g

/** The cleaned text simple_tokenizer feeds to its BPE (its `cleaned_text`). */
export function normalizePrompt(text: string): string {
  const unescaped = htmlUnescape(htmlUnescape(fixText(text)))
  return unescaped.replace(WHITESPACE, ' ').replace(EDGE_SPACE, '').toLowerCase()
}
