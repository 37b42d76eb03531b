/**
 * `presentation`: one chunk per slide or page (sections grouped by `page`; a section without a page
 * belongs to the page before it). The content is the page's texts in order (tables as HTML, images'
 * OCR text); the page's first image is attached (RAGFlow stores the page thumbnail). Without any
 * page numbers the document is chunked as by `naive`.
 */
import type { ChunkMethod, Parser, Tokenizer } from "@ragkit/core"
import { delimiterField, overlapPercent, positiveInt } from "./internal/Config.js"
import { parseDelimiters } from "./internal/Delimiters.js"
import { draft, firstImage, naiveChunks, sectionText } from "./internal/Merge.js"
import { layerOf, method } from "./internal/Method.js"

type Section = Parser.Section
type DraftChunk = ChunkMethod.DraftChunk

export const id = "presentation"

export const accepts: ReadonlyArray<string> = ["pptx", "ppt", "pdf"]

export const pageChunks = (sections: ReadonlyArray<Section>): Array<DraftChunk> => {
  const pages: Array<{ page: number; sections: Array<Section> }> = []
  for (const section of sections) {
    const page = section.page ?? section.positions?.[0]?.[0] ?? pages[pages.length - 1]?.page ?? 1
    const last = pages[pages.length - 1]
    if (last !== undefined && last.page === page) last.sections.push(section)
    else pages.push({ page, sections: [section] })
  }
  return pages.flatMap(({ page, sections: members }) => {
    const content = members.map(sectionText).filter((t) => t !== "").join("\n")
    if (content === "") return []
    const chunk = draft(content, members)
    const image = firstImage(members)
    return [{ ...chunk, page_num: chunk.page_num.length > 0 ? chunk.page_num : [page], ...(image === undefined ? {} : { image }) }]
  })
}

export const make = (tokenizer: Tokenizer.TokenizerService): ChunkMethod.ChunkMethod =>
  method("PresentationChunker", id, accepts, (doc, config) => {
    const paged = doc.sections.some((s) => s.page !== undefined || (s.positions?.length ?? 0) > 0)
    if (paged) return pageChunks(doc.sections)
    return naiveChunks(
      doc.sections,
      {
        chunkTokenNum: positiveInt(config, "chunk_token_num", 512),
        delimiters: parseDelimiters(delimiterField(config, "\n")),
        overlapPercent: overlapPercent(config)
      },
      tokenizer
    )
  })

/** A registry holding only this method. */
export const layer = layerOf(make)
