/**
 * @ragkit/adapters/builtin: the `Builtin` model provider, whose embedder `glove-100d@Builtin`
 * (GloVe 100-d word vectors as an ONNX embedding bag) needs no download. A baseline: English only.
 */
export * as GloveModel from "./GloveModel.js"
export * as GloveEmbedder from "./GloveEmbedder.js"
export * as BuiltinModels from "./BuiltinModels.js"
