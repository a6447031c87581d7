// ftfy's mojibake detector (ftfy 6 `is_bad`): text is "bad" when it contains one of a list of character
// juxtapositions that are far likelier to be UTF-8 read in a single-byte code page than intended text, e.g. an
// accented lowercase letter directly followed by a currency sign. Only bad text is considered for re-decoding, so
// this decides between leaving a prompt alone and "repairing" it; the classes and sequences are ftfy's, kept as
// data here.
import { PY_SPACE, PY_WORD } from './python-chars.ts'

// Character classes (regex class bodies; "x-y" is a range). The few hundred characters that occur in known UTF-8
// mojibake, grouped by how they behave in it.
const CLASSES = {
  // Used in many contexts; sequences containing them are not mojibake by themselves.
  common: '\u00a0\u00ad·´–—―…’',
  // C1 controls: no use today other than as mojibake.
  c1: '\u0080-\u009f',
  // Nearly always mojibake.
  bad: '¦¤¨¬¯¸ƒˆˇ˘˛˜†‡‰⌐◊\ufffdªº',
  law: '¶§',
  currency: '¢£¥₧€',
  // \uf8ff: a private-use character, usually the Apple logo.
  startPunctuation: '¡«¿©΄΅‘‚“„•‹\uf8ff',
  endPunctuation: '®»˝”›™',
  numeric: '²³¹±¼½¾×µ÷⁄∂∆∏∑√∞∩∫≈≠≡≤≥№',
  // Letters that emoticon faces (kaomoji) are made of, which may legitimately sit in odd company.
  kaomoji: 'Ò-ÖÙ-Üò-öø-üŐŌŪŲ°',
  // No capital O or U that kaomoji use, but Ø (common in Arabic mojibake).
  upperAccented: 'À-ÑØÜÝĂĀĄĆČĎĐĘĚĒĖĞĢİĪĶĹĽŁĻŃŇŅŒŘŚŞŠŢŤŮŰŸŹŻŽҐ',
  lowerAccented: 'ßà-ñăąāćčďđęěēėğģįīķĺľłļœŕśşšťüźżžґﬁﬂ',
  // Letters that often end words, so not "accented" for the rules that look at what follows.
  upperCommon: 'ÞΑ-ΩΆΈΉΊΌΎΏΪΫЁ-Я',
  lowerCommon: 'α-ωάέήίΰа-џ',
  // Box drawing, without the single horizontal line (kaomoji use it).
  box: '│┌┐┘├┤┬┼═-╬▀▄█▌▐░▒▓',
}

const {
  common,
  c1,
  bad,
  law,
  currency,
  startPunctuation: start,
  endPunctuation: end,
  numeric,
  kaomoji,
  upperAccented: upper,
  lowerAccented: lower,
  upperCommon,
  lowerCommon,
  box,
} = CLASSES
const any = (...bodies: string[]) => `[${bodies.join('')}]`

// Each alternative is one unlikely sequence; text is bad if any occurs.
const SEQUENCES = [
  any(c1),
  any(bad, lower, upper, box, start, end, currency, numeric, law) + any(bad),
  `[a-zA-Z]${any(lowerCommon, upperCommon)}${any(bad)}`,
  any(bad) + any(lower, upper, box, start, end, currency, numeric, law),
  any(lower, lowerCommon, box, end, currency, numeric) + any(upper),
  any(box, end, currency, numeric) + any(lower),
  any(lower, box, end) + any(currency),
  PY_SPACE + any(upper) + any(currency),
  any(upper, box) + any(numeric, law),
  any(lower, upper, box, currency, end) + any(start) + any(numeric),
  any(lower, upper, currency, numeric, box, law) + any(end) + any(start),
  any(currency, numeric, box) + any(start),
  `[a-z]${any(upper)}${any(start, currency)}`,
  any(box) + any(kaomoji),
  any(lower, upper, currency, numeric, start, end, law) + any(box),
  any(box) + any(end),
  any(lower, upper) + any(start, end) + PY_WORD,
  // The ligature œ not followed by an unaccented Latin letter.
  '[Œœ][^A-Za-z]',
  // A degree sign after a capital letter.
  `${any(upper)}°`,
  // Windows-1252 two-character mojibake the rules above miss.
  `[ÂÃÎÐ]${any('€œŠš¢£Ÿž\u00a0\u00ad®©°·»', start, end, '–—´')}`,
  '×[²³]',
  // Windows-1252 mojibake of Arabic, which involves 'common' characters, so four characters are required.
  `[ØÙ]${any(common, currency, bad, numeric, start, 'ŸŠ®°µ»')}[ØÙ]${any(common, currency, bad, numeric, start, 'ŸŠ®°µ»')}`,
  // Windows-1252 mojibake starting three-byte sequences of South Asian scripts.
  'à[²µ¹¼½¾]',
  // MacRoman mojibake the rules above miss.
  '√[±∂†≠®™´≤≥¥µø]',
  '≈[°¢]',
  '‚Ä[ìîïòôúùû†°¢π]',
  '‚[âó][àä°ê]',
  // Windows-1251 mojibake of characters in the U+2000 block.
  'вЂ',
  // Windows-1251 mojibake of Latin-1 or Cyrillic letters; the two-character forms are common text, so three.
  `[ВГРС]${any(c1, bad, start, end, currency, '°µ')}[ВГРС]`,
  // Windows-1251 mojibake on top of Latin-1 mojibake of Windows-1252, next to a Latin letter. (Python's `.`: any
  // character but a line feed.)
  'ГўВЂВ[^\\n][A-Za-z ]',
  // Windows-1252 encodings of 'à' and 'á', and of U+00A0 itself.
  'Ã[\u00a0¡]',
  `[a-z]${PY_SPACE}?[ÃÂ] `,
  '^[ÃÂ] ',
  // Â standing before the very character it encodes, for characters common enough.
  `${any('a-z.,?!', end)}Â${any(' ', start, end)}`,
  // Windows-1253 mojibake of characters in the U+2000 block.
  'β€[™\u00a0Ά\u00ad®°]',
  // Windows-1253 mojibake of Latin-1 or Greek letters.
  `[ΒΓΞΟ]${any(c1, bad, start, end, currency, '°')}[ΒΓΞΟ]`,
  // Windows-1257 mojibake of characters in the U+2000 block.
  'ā€',
]

const BADNESS = new RegExp(SEQUENCES.join('|'), 'u')

/** Whether `text` contains a sequence that looks like mojibake. */
export function isBad(text: string): boolean {
  return BADNESS.test(text)
}
