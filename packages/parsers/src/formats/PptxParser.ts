/**
 * PowerPoint presentations (`pptx`): the slides in presentation order (from
 * `ppt/presentation.xml`, else by natural sort of `ppt/slides/slideN.xml`). Each slide's title
 * placeholder becomes a `title` section, every other text shape a `text` section (its paragraphs
 * on separate lines), tables `table` sections, and the speaker notes a `text` section. Every
 * section of slide N carries `page: N`, so the presentation chunk method makes one chunk per slide.
 */
import type { Parser } from "@ragkit/core"
import { ParseError } from "@ragkit/core"
import { Effect } from "effect"
import { tableSection } from "./HtmlParser.js"
import { collapseWhitespace, empty, naturalCompare } from "../internal/text.js"
import { makeParser } from "../internal/markup.js"
import type { ZipArchive } from "../internal/zip.js"
import { coreProperties, decodeXmlEntities, openZip, readXml, zipLimits } from "../internal/zip.js"
import * as ParserLimits from "../ParserLimits.js"

interface Shape {
  placeholder: string | undefined
  readonly paragraphs: Array<string>
}

interface Table {
  readonly rows: Array<Array<string>>
  row: Array<string> | undefined
  cell: Array<string> | undefined
}

/** Placeholders whose text is furniture, not content. */
const FURNITURE = new Set(["sldNum", "dt", "ftr", "hdr", "sldImg"])

/** The shapes and tables of one slide (or notes page) XML, in document order. */
export const slideSections = (xml: string, options: { readonly notes?: boolean } = {}): Array<Parser.Section> => {
  const sections: Array<Parser.Section> = []
  let shape: Shape | undefined
  let table: Table | undefined
  let paragraph: string | undefined
  let inText = false

  const parser = makeParser(
    {
      onopentag(name, attributes) {
        switch (name) {
          case "p:sp":
            shape = { placeholder: undefined, paragraphs: [] }
            break
          case "p:ph":
            if (shape !== undefined) shape.placeholder = attributes.type ?? "body"
            break
          case "a:tbl":
            table = { rows: [], row: undefined, cell: undefined }
            break
          case "a:tr":
            if (table !== undefined) table.row = []
            break
          case "a:tc":
            if (table !== undefined) {
              table.cell = []
              // Cells covered by a merge keep their column with an empty cell.
              if (attributes.hMerge === "1" || attributes.vMerge === "1") table.cell.push("")
            }
            break
          case "a:p":
            paragraph = ""
            break
          case "a:t":
            inText = true
            break
          case "a:br":
            if (paragraph !== undefined) paragraph += "\n"
            break
          case "a:tab":
            if (paragraph !== undefined) paragraph += "\t"
            break
        }
      },
      ontext(text) {
        if (inText && paragraph !== undefined) paragraph += decodeXmlEntities(text)
      },
      onclosetag(name) {
        switch (name) {
          case "a:t":
            inText = false
            break
          case "a:p": {
            const text = (paragraph ?? "").split("\n").map((line) => line.replace(/[ \t\u00a0]+/g, " ").trim()).join("\n").trim()
            paragraph = undefined
            if (text === "") break
            if (table?.cell !== undefined) table.cell.push(text)
            else if (shape !== undefined) shape.paragraphs.push(text)
            break
          }
          case "a:tc":
            if (table !== undefined && table.cell !== undefined) {
              table.row ??= []
              table.row.push(collapseWhitespace(table.cell.join(" ")))
              table.cell = undefined
            }
            break
          case "a:tr":
            if (table?.row !== undefined && table.row.some((cell) => cell !== "")) table.rows.push(table.row)
            if (table !== undefined) table.row = undefined
            break
          case "a:tbl":
            if (table !== undefined && table.rows.length > 0) sections.push(tableSection(table.rows))
            table = undefined
            break
          case "p:sp": {
            const current = shape
            shape = undefined
            if (current === undefined || current.paragraphs.length === 0) break
            const placeholder = current.placeholder
            if (placeholder !== undefined && FURNITURE.has(placeholder)) break
            if (options.notes === true && placeholder !== "body") break
            const isTitle = placeholder === "title" || placeholder === "ctrTitle"
            if (isTitle) sections.push({ kind: "title", text: collapseWhitespace(current.paragraphs.join(" ")), level: 1 })
            else sections.push({ kind: "text", text: current.paragraphs.join("\n") })
            break
          }
        }
      }
    },
    { xmlMode: true, decodeEntities: false }
  )
  parser.write(xml)
  parser.end()
  return sections
}

interface Relationship {
  readonly id: string
  readonly type: string
  readonly target: string
}

const relationships = (xml: string | undefined): Array<Relationship> => {
  if (xml === undefined) return []
  const out: Array<Relationship> = []
  // `[^<>]` and the look-behind keep these linear on hostile XML (no '>', long names).
  for (const match of xml.matchAll(/<(?:\w+:)?Relationship\b([^<>]*)>/g)) {
    const attributes: Record<string, string> = {}
    for (const attribute of match[1]!.matchAll(/(?<![\w:])([\w:]+)\s*=\s*"([^"]*)"/g)) attributes[attribute[1]!] = decodeXmlEntities(attribute[2]!)
    if (attributes.Id !== undefined && attributes.Target !== undefined) {
      out.push({ id: attributes.Id, type: attributes.Type ?? "", target: attributes.Target })
    }
  }
  return out
}

/** A relationship target resolved against the folder of the part that names it. */
const resolvePart = (folder: string, target: string): string => {
  if (target.startsWith("/")) return target.slice(1)
  const parts = folder.split("/").filter((part) => part !== "")
  for (const part of target.split("/")) {
    if (part === "..") parts.pop()
    else if (part !== "." && part !== "") parts.push(part)
  }
  return parts.join("/")
}

const SLIDE = /^ppt\/slides\/slide\d+\.xml$/

/** The slide parts in presentation order. */
const slideOrder = (archive: ZipArchive, fileName: string): Effect.Effect<Array<string>, ParseError> =>
  Effect.gen(function*() {
    const presentation = yield* archive.readText("ppt/presentation.xml")
    const relsXml = yield* archive.readText("ppt/_rels/presentation.xml.rels")
    const rels = yield* readXml(fileName, "PPTX", "ppt/_rels/presentation.xml.rels", () => relationships(relsXml))
    const byId = new Map(rels.map((rel) => [rel.id, resolvePart("ppt", rel.target)]))
    const ordered = new Set<string>()
    for (const match of (presentation ?? "").matchAll(/<p:sldId\b[^<>]*\br:id="([^"]+)"/g)) {
      const part = byId.get(match[1]!)
      if (part !== undefined && archive.has(part)) ordered.add(part)
    }
    if (ordered.size > 0) return [...ordered]
    return archive.entries.map((entry) => entry.name).filter((name) => SLIDE.test(name)).sort(naturalCompare)
  })

/** PowerPoint presentations (`pptx`, `pptm`); the archive is checked against the deployment's `limits`. */
export const makePptxParser = (limits: ParserLimits.ParserLimits): Parser.Parser => ({
  name: "pptx",
  extensions: ["pptx", "pptm"],
  mimeTypes: [
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.ms-powerpoint.presentation.macroEnabled.12"
  ],
  parse: Effect.fn("PptxParser.parse")(function*(input: Parser.ParseInput) {
    const archive = yield* openZip(input.bytes, { format: "PPTX", fileName: input.fileName, limits: zipLimits(limits) })
    const slides = yield* slideOrder(archive, input.fileName)
    if (slides.length === 0 && !archive.has("ppt/presentation.xml")) {
      return yield* new ParseError({ reason: "Corrupt", message: `${input.fileName}: not a valid PPTX (no slides)` })
    }
    const includeNotes = input.options?.includeNotes !== false
    const sections: Array<Parser.Section> = []
    for (const [index, part] of slides.entries()) {
      const page = index + 1
      const xml = yield* archive.readText(part)
      if (xml === undefined) continue
      const own = yield* readXml(input.fileName, "PPTX", part, () => slideSections(xml))
      // The title first, as the slide shows it.
      const ordered = [...own.filter((s) => s.kind === "title"), ...own.filter((s) => s.kind !== "title")]
      if (includeNotes) {
        const folder = part.slice(0, part.lastIndexOf("/"))
        const relsPart = `${folder}/_rels/${part.slice(folder.length + 1)}.rels`
        const relsXml = yield* archive.readText(relsPart)
        const rels = yield* readXml(input.fileName, "PPTX", relsPart, () => relationships(relsXml))
        const notes = rels.find((rel) => rel.type.endsWith("/notesSlide"))
        const notesPart = notes === undefined ? undefined : resolvePart(folder, notes.target)
        const notesXml = notesPart === undefined ? undefined : yield* archive.readText(notesPart)
        if (notesPart !== undefined && notesXml !== undefined) {
          const notesSections = yield* readXml(input.fileName, "PPTX", notesPart, () => slideSections(notesXml, { notes: true }))
          const text = notesSections.map((section) => section.text).join("\n").trim()
          if (text !== "") ordered.push({ kind: "text", text })
        }
      }
      sections.push(...ordered.map((section) => ({ ...section, page })))
    }
    if (sections.length === 0) return yield* empty(input.fileName)
    const properties = yield* coreProperties(archive, input.fileName, "PPTX")
    return { sections, metadata: { ...properties, slides: slides.length } }
  })
})

/** PowerPoint presentations, with the default limits. */
export const PptxParser: Parser.Parser = makePptxParser(ParserLimits.defaults)
