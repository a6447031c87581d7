// GPT-2/CLIP byte-level alphabet (bytes_to_unicode): every byte maps to a printable character, so BPE
// vocabularies never hold raw control bytes or spaces.
export function byteLevelAlphabet(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)
  let next = 256
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : next++))
}

/**
 * The smallest complete CLIP vocabulary: the 256 byte symbols, the same with `</w>`, then the two specials
 * (the order of CLIP's vocab.json with no merges). Any text tokenizes with it, one byte per token.
 */
export function byteLevelVocab(): Record<string, number> {
  const bytes = byteLevelAlphabet()
  const tokens = [...bytes, ...bytes.map((b) => `${b}</w>`), '<|startoftext|>', '<|endoftext|>']
  return Object.fromEntries(tokens.map((t, i) => [t, i]))
}
