/**
 * @ragkit/adapters/builtin: the `Builtin` model provider, whose models need no download: the
 * embedder `glove-100d@Builtin` (a weighted mean of GloVe 100-d word vectors; a baseline,
 * English only) and the chat model `extractive@Builtin` (answers by quoting the retrieved passages).
 */
export * as GloveModel from "./GloveModel.js"
export * as GloveEmbedder from "./GloveEmbedder.js"
export * as BuiltinModels from "./BuiltinModels.js"
export * as ExtractiveAnswerer from "./ExtractiveAnswerer.js"
