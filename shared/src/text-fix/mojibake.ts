// ftfy's fix_encoding: undo mojibake, text that was UTF-8 but got decoded with a single-byte code page
// ('â€œ' for '“'). When the text looks bad (badness.ts), it is encoded back with the first code page that can
// hold it and whose bytes then decode as UTF-8; failing that, embedded pieces of mojibake are fixed on their own,
// then Latin-1 that was meant as Windows-1252 (C1 controls). Repeated until nothing changes, since mojibake can be
// layered.
import { isBad } from './badness.ts'
import { hasAlteredUtf8, replaceLossySequences, restoreByteA0 } from './byte-repairs.ts'
import { fixC1Controls } from './char-fixes.ts'
import { CODE_PAGES, decodeWindows1252, encodeCodePage } from './codecs.ts'
import { decodeUtf8, decodeUtf8Variants } from './utf8.ts'

// Characters that UTF-8 bytes turn into in the code pages (generated from ftfy's character data), to find
// mojibake embedded in otherwise good text.
const CLUES = {
  // Lead bytes C2-DF of two-byte sequences.
  firstOf2:
    'ĂÂÄĀÅÃÆĆČÇĎĐÉĚÊËĖÈĒĘÐĞĢÍÎÏİÌĪĶĹĻŁŃŇŅÑÓÔÖŐÒŌØÕŘŚŠŞŢÞÚÛÜŰÙŪŲŮÝŹŽŻß×ΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩΪΫάέήίВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ',
  // Lead bytes E0-EF of three-byte sequences.
  firstOf3: 'áăâäàāąåãæćčçďéěêëėèēęęģíîïìīįķĺļŕźΰαβγδεζηθικλμνξοабвгдежзийклмноп',
  // Lead bytes F0 and F3 of four-byte sequences (the others only start unassigned code points).
  firstOf4: 'đðğóšπσру',
  // Continuation bytes 80-BF, and the space that may stand for A0.
  continuation:
    '\u0080-¿ ĄÆĽŁØŖŚŠŞŤŸŹŽŻŒąæƒľłøŗśšşťźžżœˆˇ˘˛˜˝΄΅ΆΈΉΊΌΎΏЁЂЃЄЅІЇЈЉЊЋЌЎЏёђѓєѕіїјљњћќўџҐґ–—―‘’‚“”„†‡•…‰‹›€№™',
  // Continuation bytes that seldom stand for themselves next to mojibake (no spaces, dashes, quotes, bullets,
  // ellipses).
  continuationStrict:
    '\u0080-¿ĄÆĽŁØŖŚŠŞŤŸŹŽŻŒąæƒľłøŗśšşťźžżœˆˇ˘˛˜˝΄΅ΆΈΉΊΌΎΏЁЂЃЄЅІЇЈЉЊЋЌЎЏёђѓєѕіїјљњћќўџҐґ†‡‰‹›€№™',
}

// Runs of UTF-8-shaped mojibake, not preceded by a continuation character (so that a few characters in the middle
// of a large garble are not "fixed" on their own, which would make things worse).
const cont = `[${CLUES.continuation}]`
const UTF8_MOJIBAKE = new RegExp(
  `(?<![${CLUES.continuationStrict}])(?:[${CLUES.firstOf2}]${cont}|[${CLUES.firstOf3}]${cont}{2}|[${CLUES.firstOf4}]${cont}{3})+`,
  'gu',
)

const NON_ASCII = /[\u0080-\u{10ffff}]/u

/** Decodes the mojibake in `text` until none is left (ftfy.fix_encoding). */
export function fixEncoding(text: string): string {
  for (;;) {
    const fixed = fixEncodingStep(text)
    if (fixed === text) return text
    text = fixed
  }
}

function fixEncodingStep(text: string): string {
  if (!NON_ASCII.test(text) || !isBad(text)) return text

  for (const page of CODE_PAGES) {
    let bytes = encodeCodePage(text, page)
    if (bytes === null) continue
    // A space after a UTF-8 lead byte could be an A0 (but in MacRoman "– " is too common to read so).
    if (page !== 'macroman' && hasAlteredUtf8(bytes)) bytes = restoreByteA0(bytes)
    if (page.startsWith('sloppy-')) bytes = replaceLossySequences(bytes)
    const decoded = /[\xc0\xed]/.test(bytes) ? decodeUtf8Variants(bytes) : decodeUtf8(bytes)
    if (decoded !== null) return decoded
  }

  if (text.search(UTF8_MOJIBAKE) !== -1) {
    const fixed = decodeInconsistentUtf8(text)
    if (fixed !== text) return fixed
  }

  // Only Latin-1 text is left that could be Windows-1252 read as Latin-1: its C1 controls. (ftfy's check for
  // text that is also Windows-1252 looks for a code page name it never records, so it never applies; the strict
  // decoding just fails on the five bytes Windows-1252 leaves undefined.)
  if (encodeCodePage(text, 'latin-1') !== null) {
    const fixed = decodeWindows1252(text)
    if (fixed !== null && fixed !== text) return fixed
  }

  if (/[\u0080-\u009f]/.test(text)) return fixC1Controls(text)
  return text
}

/** Fixes pieces of UTF-8 mojibake inside text that as a whole has no single consistent re-decoding. */
export function decodeInconsistentUtf8(text: string): string {
  // Only pieces shorter than the text, which keeps the recursion finite.
  return text.replace(UTF8_MOJIBAKE, (piece) =>
    piece.length < text.length && isBad(piece) ? fixEncoding(piece) : piece,
  )
}
