/** Which language a text is in, as far as the chunk methods care (RAGFlow's `is_chinese`). */

const isCjk = (c: number) => (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0xf900 && c <= 0xfaff)

/** More than a fifth of the non-blank characters are CJK ideographs. */
export const isChinese = (text: string): boolean => {
  let cjk = 0
  let total = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c <= 32 || c === 0x3000) continue
    total++
    if (isCjk(c)) cjk++
  }
  return total > 0 && cjk / total > 0.2
}

const ENGLISH_LINE = /^[`a-zA-Z0-9\s.,':;/"?<>!()\-]+$/

/** More than 80% of the non-blank lines are plain ASCII prose (RAGFlow's `is_english`). */
export const isEnglish = (lines: ReadonlyArray<string>): boolean => {
  let english = 0
  let total = 0
  for (const line of lines) {
    const t = line.trim()
    if (t === "") continue
    total++
    if (ENGLISH_LINE.test(t)) english++
  }
  return total > 0 && english / total > 0.8
}
