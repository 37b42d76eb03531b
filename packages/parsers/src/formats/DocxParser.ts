/**
 * Word documents (`docx`): mammoth turns the document into HTML (Heading 1..6 styles into
 * `h1`..`h6`, numbered and bulleted paragraphs into lists, tables with their rows and cells), which
 * the HTML parser turns into sections: `title` with levels, `text`, `list` and `table`. The zip
 * container is checked first (`internal/zip.ts`); images are not extracted.
 */
import type { Parser } from "@ragkit/core"
import { ParseError } from "@ragkit/core"
import { Effect } from "effect"
import { htmlToSections } from "./HtmlParser.js"
import { empty, messageOf } from "../internal/text.js"
import { lazyModule } from "../internal/lazy.js"
import { coreProperties, openZip, zipLimits } from "../internal/zip.js"
import * as ParserLimits from "../ParserLimits.js"

const mammoth = lazyModule("mammoth", async () => {
  const { default: library } = await import("mammoth")
  /** Images are neither inflated nor embedded: only their alt text is kept. */
  const skipImages = library.images.imgElement(() => Promise.resolve({ src: "" }))
  return { library, skipImages }
})

/** Word documents (`docx`, `docm`); the archive is checked against the deployment's `limits`. */
export const makeDocxParser = (limits: ParserLimits.ParserLimits): Parser.Parser => ({
  name: "docx",
  extensions: ["docx", "docm"],
  mimeTypes: [
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-word.document.macroEnabled.12"
  ],
  parse: Effect.fn("DocxParser.parse")(function*(input: Parser.ParseInput) {
    const archive = yield* openZip(input.bytes, { format: "DOCX", fileName: input.fileName, limits: zipLimits(limits) })
    if (!archive.has("word/document.xml") && !archive.has("[Content_Types].xml")) {
      return yield* new ParseError({ reason: "Corrupt", message: `${input.fileName}: not a valid DOCX (no word/document.xml)` })
    }
    // mammoth inflates the parts on its own: check first that none inflates beyond the limits.
    yield* archive.verifyAll
    const properties = yield* coreProperties(archive, input.fileName, "DOCX")
    const { library, skipImages } = yield* mammoth
    const result = yield* Effect.tryPromise({
      try: () => library.convertToHtml({ buffer: Buffer.from(input.bytes) }, { convertImage: skipImages, externalFileAccess: false }),
      catch: (cause) =>
        new ParseError({ reason: "Corrupt", message: `${input.fileName}: cannot read the DOCX: ${messageOf(cause)}`, cause })
    })
    const doc = htmlToSections(result.value)
    if (doc.sections.length === 0) return yield* empty(input.fileName)
    const title = properties.title ?? doc.sections.find((section) => section.kind === "title")?.text
    return { sections: doc.sections, metadata: { ...properties, ...(title === undefined ? {} : { title }) } }
  })
})

/** Word documents, with the default limits. */
export const DocxParser: Parser.Parser = makeDocxParser(ParserLimits.defaults)
