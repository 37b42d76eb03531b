/** Lines of a document's text sections, with the section each comes from. */
import type { Parser } from "@ragkit/core"

type Section = Parser.Section

export interface Line {
  readonly text: string
  readonly section: Section
}

/** Every line of the text-like sections (not tables or images), in order; blank lines kept only if asked. */
export const textLines = (sections: ReadonlyArray<Section>, keepBlank = false): Array<Line> => {
  const out: Array<Line> = []
  for (const section of sections) {
    if (section.kind === "table" || section.kind === "image") continue
    for (const raw of section.text.replace(/\r\n?/g, "\n").split("\n")) {
      const text = raw.trimEnd()
      if (keepBlank || text.trim() !== "") out.push({ text, section })
    }
  }
  return out
}

/** Tab or comma, whichever splits more lines into exactly two fields (RAGFlow's txt rule); ties go to tab. */
export const pairDelimiter = (lines: ReadonlyArray<Line>): "\t" | "," => {
  let tab = 0
  let comma = 0
  for (const line of lines) {
    if (line.text.split("\t").length === 2) tab++
    if (line.text.split(",").length === 2) comma++
  }
  return tab >= comma ? "\t" : ","
}

/** The non-blank cells of a row, trimmed. */
export const filledCells = (row: ReadonlyArray<string>): Array<string> =>
  row.map((cell) => cell.trim()).filter((cell) => cell !== "")
