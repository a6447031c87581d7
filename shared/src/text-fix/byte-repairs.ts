// Repairs to re-encoded mojibake bytes (byte strings, code units 0x00-0xFF) before they are decoded as UTF-8:
// damage that happened on top of the wrong decoding and would otherwise make the UTF-8 invalid.

// UTF-8 sequences that would be valid if one space were the byte A0 it most likely was (some program turned the
// no-break space its wrong decoding produced into a plain one). Only lead bytes whose resulting characters are
// plausible are accepted: C2 (U+A0 itself), C3 (à), C5 (Š), CE (Π), D0 (Р), D9 (Arabic digit zero); E0-E3 for
// three-byte sequences (no space right after E0/E1, which would give Samaritan or Mongolian); F0 for four bytes.
const ALTERED_UTF8 =
  /[\xc2\xc3\xc5\xce\xd0\xd9] |[\xe2\xe3] [\x80-\x84\x86-\x9f\xa1-\xbf]|[\xe0-\xe3][\x80-\x84\x86-\x9f\xa1-\xbf] |\xf0 [\x80-\xbf][\x80-\xbf]|\xf0[\x80-\xbf] [\x80-\xbf]|\xf0[\x80-\xbf][\x80-\xbf] /g

// "Ã " is usually the word "à" whose A0 absorbed the space after it ("Ã la mode"): restore the A0 and keep the
// space, except before the Portuguese contractions "às", "àquele", "àquela", "àquilo" (and plurals), which do
// continue the word.
const A_GRAVE_WORD = /\xc3 (?! |quele|quela|quilo|s )/g

/** Whether the bytes contain a sequence restoreByteA0 would repair. */
export function hasAlteredUtf8(bytes: string): boolean {
  return bytes.search(ALTERED_UTF8) !== -1
}

/** Puts back the A0 bytes that were turned into spaces inside UTF-8 sequences. */
export function restoreByteA0(bytes: string): string {
  return bytes.replace(A_GRAVE_WORD, '\xc3\xa0 ').replace(ALTERED_UTF8, (m) => m.replaceAll(' ', '\xa0'))
}

// UTF-8 sequences in which a byte was lost: byte 1A stands for a character the sloppy code page read as U+FFFD
// (see codecs.ts), and a '?' may stand for one such byte per sequence. A lone 1A is lost information too.
const LOST = '\\x1a'
const LOST_OR_QMARK = '[\\x1a?]'
const CONT_OR_LOST = '[\\x1a\\x80-\\xbf]'
const LOSSY_UTF8 = new RegExp(
  [
    `[\\xc2-\\xdf]${LOST}`,
    '[\\xc2-\\xc3]\\?',
    // CESU-8 surrogate pairs
    `\\xed[\\xa0-\\xaf]${LOST_OR_QMARK}\\xed[\\xb0-\\xbf][\\x1a?\\x80-\\xbf]`,
    `\\xed[\\xa0-\\xaf][\\x1a?\\x80-\\xbf]\\xed[\\xb0-\\xbf]${LOST_OR_QMARK}`,
    `[\\xe0-\\xef]${LOST_OR_QMARK}${CONT_OR_LOST}`,
    `[\\xe0-\\xef]${CONT_OR_LOST}${LOST_OR_QMARK}`,
    `[\\xf0-\\xf4]${LOST_OR_QMARK}${CONT_OR_LOST}${CONT_OR_LOST}`,
    `[\\xf0-\\xf4]${CONT_OR_LOST}${LOST_OR_QMARK}${CONT_OR_LOST}`,
    `[\\xf0-\\xf4]${CONT_OR_LOST}${CONT_OR_LOST}${LOST_OR_QMARK}`,
    LOST,
  ].join('|'),
  'g',
)

/** Replaces each damaged UTF-8 sequence with the UTF-8 of U+FFFD, so that the rest can still be decoded. */
export function replaceLossySequences(bytes: string): string {
  return bytes.replace(LOSSY_UTF8, '\xef\xbf\xbd')
}
