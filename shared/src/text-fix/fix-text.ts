// ftfy.fix_text with its default configuration (ftfy 6.3.1), the first step of CLIP's text cleaning.
import {
  fixC1Controls,
  fixCharacterWidth,
  fixLatinLigatures,
  fixLineBreaks,
  fixSurrogates,
  removeControlChars,
  removeTerminalEscapes,
  uncurlQuotes,
} from './char-fixes.ts'
import { unescapeHtml } from './html-unescape.ts'
import { fixEncoding } from './mojibake.ts'

// ftfy's order after the encoding fix.
const CHARACTER_FIXES = [
  fixC1Controls,
  fixLatinLigatures,
  fixCharacterWidth,
  uncurlQuotes,
  fixLineBreaks,
  fixSurrogates,
  removeTerminalEscapes,
  removeControlChars,
]

// ftfy bounds the work on one segment (counted in code points).
const MAX_SEGMENT = 1_000_000

/** Fixes one segment: every fix in order, then NFC, repeated until the text no longer changes. */
function fixSegment(text: string, decodeEntities: boolean): string {
  for (;;) {
    const before = text
    if (decodeEntities) text = unescapeHtml(text)
    text = fixEncoding(text)
    for (const fix of CHARACTER_FIXES) text = fix(text)
    text = text.normalize('NFC')
    if (text === before) return text
  }
}

/**
 * ftfy.fix_text: mojibake, HTML entities, ligatures, widths, curly quotes, line breaks, control characters, NFC.
 * Works line by line (each segment ends after a '\n'). HTML entities are left alone from the first line that has a
 * '<' on (the text is then taken to be HTML), as ftfy does.
 */
export function fixText(text: string): string {
  let out = ''
  let decodeEntities = true
  let pos = 0
  while (pos < text.length) {
    let end = text.indexOf('\n', pos) + 1 || text.length
    // Only a segment of over a million code units can be over a million code points.
    if (end - pos > MAX_SEGMENT) end = advanceCodePoints(text, pos, MAX_SEGMENT, end)
    const segment = text.slice(pos, end)
    if (decodeEntities && segment.includes('<')) decodeEntities = false
    out += fixSegment(segment, decodeEntities)
    pos = end
  }
  return out
}

/** The index `count` code points after `pos`, or `limit` if that comes first. */
function advanceCodePoints(text: string, pos: number, count: number, limit: number): number {
  let i = pos
  for (let n = 0; n < count && i < limit; n++) {
    const c = text.charCodeAt(i)
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < limit && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    i += pair ? 2 : 1
  }
  return i
}
