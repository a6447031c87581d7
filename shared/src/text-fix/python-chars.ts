// Python's meaning of the regex shorthands ftfy's and CLIP's patterns use on str, as JS character classes (for
// regexes with the `u` flag). Python's are Unicode-aware; JS's \s, \w and \d are not the same sets.

/** Python `\s` (str.isspace): JS `\s` plus U+001C-001F and U+0085, minus U+FEFF. */
export const PY_SPACE =
  '[\\t\\n\\v\\f\\r \\u001c-\\u001f\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]'

/** Python `\w`: letters, numbers (any general category L or N) and the underscore. */
export const PY_WORD = '[\\p{L}\\p{N}_]'

/** Python `\d`: decimal digits of any script. */
export const PY_DIGIT = '\\p{Nd}'
