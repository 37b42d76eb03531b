/**
 * `picture`: one chunk per image section that has text (OCR or a caption), the image attached.
 * Images without text give no chunk (RAGFlow asks a vision model to describe them; that is not done
 * here). A document with text but no image sections (an OCR parser that emits text) is one chunk.
 */
import type { ChunkMethod, Tokenizer } from "@ragkit/core"
import { draft, imageChunk } from "./internal/Merge.js"
import { layerOf, method } from "./internal/Method.js"

export const id = "picture"

export const accepts: ReadonlyArray<string> = ["jpg", "jpeg", "png", "tif", "tiff", "gif", "bmp", "webp", "ico", "svg"]

export const make = (_tokenizer: Tokenizer.TokenizerService): ChunkMethod.ChunkMethod =>
  method("PictureChunker", id, accepts, (doc) => {
    const images = doc.sections.filter((s) => s.kind === "image")
    if (images.length > 0) return images.flatMap((section) => imageChunk(section))
    const texts = doc.sections.filter((s) => s.kind !== "table" && s.text.trim() !== "")
    const content = texts.map((s) => s.text.trim()).join("\n")
    return content === "" ? [] : [draft(content, texts)]
  })

/** A registry holding only this method. */
export const layer = layerOf(make)
