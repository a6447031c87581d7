// Prompt normalization: the text cleaning the CLIP tokenizer (openai/CLIP simple_tokenizer.py) applies before BPE,
// so that two prompts that tokenize the same share one request key.
//
//   simple_tokenizer: ftfy.fix_text -> html.unescape x2 -> strip -> collapse whitespace -> strip -> lower
//
// ftfy.fix_text is approximated by the fixes that are pure character mappings (NFC, curly quotes, Latin
// ligatures, full/half-width forms). ftfy's mojibake repair (guessing a wrong decoding and re-encoding) is NOT
// reproduced: such a prompt keeps its mojibake and gets a different key than its repaired form, which only costs
// a cache miss, never a wrong image (the backend tokenizes the normalized text it is given).
import { decodeHTML } from 'entities'

const SINGLE_QUOTES = /[\u2018\u2019\u201a\u201b]/g
const DOUBLE_QUOTES = /[\u201c\u201d\u201e\u201f]/g
// ftfy fix_latin_ligatures: ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ (U+FB00..FB06); fix_character_width: full-width ASCII and half-width
// katakana/hangul (U+FF01..FFEF) and the ideographic space (U+3000). NFKC of each such character is exactly its
// ftfy replacement.
const COMPAT_CHARS = /[\ufb00-\ufb06\uff01-\uffef\u3000]/g
// Python's `\s` on str patterns (str.isspace): JS `\s` plus U+001C..001F and U+0085, minus U+FEFF.
// biome-ignore lint/suspicious/noControlCharactersInRegex: Python treats U+001C..001F as whitespace
const WHITESPACE = /[\t\n\v\f\r \u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g
const EDGE_SPACE = /^ | $/g

/** ftfy.fix_text minus mojibake repair: compatibility characters, quotes, NFC. */
export function fixText(text: string): string {
  return text
    .replace(COMPAT_CHARS, (c) => c.normalize('NFKC'))
    .replace(SINGLE_QUOTES, "'")
    .replace(DOUBLE_QUOTES, '"')
    .normalize('NFC')
}

/** The cleaned text simple_tokenizer feeds to its BPE (its `cleaned_text`). */
export function normalizePrompt(text: string): string {
  const unescaped = decodeHTML(decodeHTML(fixText(text)))
  return unescaped.replace(WHITESPACE, ' ').replace(EDGE_SPACE, '').toLowerCase()
}
