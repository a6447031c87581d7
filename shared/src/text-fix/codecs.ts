// The single-byte code pages ftfy tries when it suspects mojibake (UTF-8 bytes that some program decoded with one
// of these), in ftfy's order of preference. Text is "possible" in a code page when every character is one of its
// 256; encoding gives a byte string (a JS string whose code units are the bytes 0x00-0xFF).
//
// The "sloppy" Windows code pages are ftfy's own: bytes Windows leaves undefined decode to the Latin-1 character of
// the same number (as browsers do), and byte 0x1A stands for U+FFFD so that text with replacement characters can
// still be re-encoded (replace_lossy_sequences then turns the UTF-8 around such a byte into U+FFFD).

export type CodePage =
  | 'latin-1'
  | 'sloppy-windows-1252'
  | 'sloppy-windows-1251'
  | 'sloppy-windows-1250'
  | 'sloppy-windows-1253'
  | 'sloppy-windows-1254'
  | 'sloppy-windows-1257'
  | 'iso-8859-2'
  | 'macroman'
  | 'cp437'

/** ftfy's CHARMAP_ENCODINGS order. */
export const CODE_PAGES: readonly CodePage[] = [
  'latin-1',
  'sloppy-windows-1252',
  'sloppy-windows-1251',
  'sloppy-windows-1250',
  'sloppy-windows-1253',
  'sloppy-windows-1254',
  'sloppy-windows-1257',
  'iso-8859-2',
  'macroman',
  'cp437',
]

// Bytes 0x80-0xFF of each code page (0x00-0x7F are ASCII in all of them), generated from Python's codecs.
const LATIN_1_HIGH = Array.from({ length: 128 }, (_, i) => String.fromCharCode(0x80 + i)).join('')
const HIGH_HALVES: Record<CodePage, string> = {
  'latin-1': LATIN_1_HIGH,
  'sloppy-windows-1252':
    '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ\u00a0¡¢£¤¥¦§¨©ª«¬\u00ad®¯°±²³´µ¶·¸¹º»¼½¾¿ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ',
  'sloppy-windows-1251':
    'ЂЃ‚ѓ„…†‡€‰Љ‹ЊЌЋЏђ‘’“”•–—\u0098™љ›њќћџ\u00a0ЎўЈ¤Ґ¦§Ё©Є«¬\u00ad®Ї°±Ііґµ¶·ё№є»јЅѕїАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдежзийклмнопрстуфхцчшщъыьэюя',
  'sloppy-windows-1250':
    '€\u0081‚\u0083„…†‡\u0088‰Š‹ŚŤŽŹ\u0090‘’“”•–—\u0098™š›śťžź\u00a0ˇ˘Ł¤Ą¦§¨©Ş«¬\u00ad®Ż°±˛ł´µ¶·¸ąş»Ľ˝ľżŔÁÂĂÄĹĆÇČÉĘËĚÍÎĎĐŃŇÓÔŐÖ×ŘŮÚŰÜÝŢßŕáâăäĺćçčéęëěíîďđńňóôőö÷řůúűüýţ˙',
  'sloppy-windows-1253':
    '€\u0081‚ƒ„…†‡\u0088‰\u008a‹\u008c\u008d\u008e\u008f\u0090‘’“”•–—\u0098™\u009a›\u009c\u009d\u009e\u009f\u00a0΅Ά£¤¥¦§¨©ª«¬\u00ad®―°±²³΄µ¶·ΈΉΊ»Ό½ΎΏΐΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡÒΣΤΥΦΧΨΩΪΫάέήίΰαβγδεζηθικλμνξοπρςστυφχψωϊϋόύώÿ',
  'sloppy-windows-1254':
    '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008d\u008e\u008f\u0090‘’“”•–—˜™š›œ\u009d\u009eŸ\u00a0¡¢£¤¥¦§¨©ª«¬\u00ad®¯°±²³´µ¶·¸¹º»¼½¾¿ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏĞÑÒÓÔÕÖ×ØÙÚÛÜİŞßàáâãäåæçèéêëìíîïğñòóôõö÷øùúûüışÿ',
  'sloppy-windows-1257':
    '€\u0081‚\u0083„…†‡\u0088‰\u008a‹\u008c¨ˇ¸\u0090‘’“”•–—\u0098™\u009a›\u009c¯˛\u009f\u00a0¡¢£¤¥¦§Ø©Ŗ«¬\u00ad®Æ°±²³´µ¶·ø¹ŗ»¼½¾æĄĮĀĆÄÅĘĒČÉŹĖĢĶĪĻŠŃŅÓŌÕÖ×ŲŁŚŪÜŻŽßąįāćäåęēčéźėģķīļšńņóōõö÷ųłśūüżž˙',
  'iso-8859-2':
    '\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008a\u008b\u008c\u008d\u008e\u008f\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009a\u009b\u009c\u009d\u009e\u009f\u00a0Ą˘Ł¤ĽŚ§¨ŠŞŤŹ\u00adŽŻ°ą˛ł´ľśˇ¸šşťź˝žżŔÁÂĂÄĹĆÇČÉĘËĚÍÎĎĐŃŇÓÔŐÖ×ŘŮÚŰÜÝŢßŕáâăäĺćçčéęëěíîďđńňóôőö÷řůúűüýţ˙',
  macroman:
    'ÄÅÇÉÑÖÜáàâäãåçéèêëíìîïñóòôöõúùûü†°¢£§•¶ß®©™´¨≠ÆØ∞±≤≥¥µ∂∑∏π∫ªºΩæø¿¡¬√ƒ≈∆«»…\u00a0ÀÃÕŒœ–—“”‘’÷◊ÿŸ⁄€‹›ﬁﬂ‡·‚„‰ÂÊÁËÈÍÎÏÌÓÔ\uf8ffÒÚÛÙıˆ˜¯˘˙˚¸˝˛ˇ',
  cp437:
    'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0',
}

interface Table {
  /** byte -> character */
  decode: string[]
  /** character -> byte */
  encode: Map<string, number>
}

const tables = new Map<CodePage, Table>()

function table(page: CodePage): Table {
  let t = tables.get(page)
  if (!t) {
    const decode = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i))
    decode.push(...HIGH_HALVES[page])
    if (page.startsWith('sloppy-')) decode[0x1a] = '\ufffd'
    const encode = new Map(decode.map((c, b) => [c, b]))
    t = { decode, encode }
    tables.set(page, t)
  }
  return t
}

/** The byte string of `text` in `page`, or null when some character is not in it. */
export function encodeCodePage(text: string, page: CodePage): string | null {
  const { encode } = table(page)
  let out = ''
  for (const c of text) {
    const b = encode.get(c)
    if (b === undefined) return null
    out += String.fromCharCode(b)
  }
  return out
}

/** Decodes a byte string in `page` (every byte is defined in the code pages above). */
export function decodeCodePage(bytes: string, page: CodePage): string {
  const { decode } = table(page)
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += decode[bytes.charCodeAt(i)] ?? ''
  return out
}

// Python's strict windows-1252 leaves these bytes undefined (decoding them is an error).
const CP1252_UNDEFINED = /[\x81\x8d\x8f\x90\x9d]/

/** Python's `bytes.decode('windows-1252')` (strict), or null where that raises. */
export function decodeWindows1252(bytes: string): string | null {
  if (CP1252_UNDEFINED.test(bytes)) return null
  return bytes.replace(/[\x80-\x9f]/g, (b) => decodeCodePage(b, 'sloppy-windows-1252'))
}
