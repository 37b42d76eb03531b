/**
 * @ragkit/adapters/onnx: local models on ONNX Runtime. Sentence-transformers embedders and
 * cross-encoder rerankers from Hugging Face folders, and the `onnx` model plugin that serves them
 * as `<folder>@ONNX`.
 */
export * as CrossEncoderReranker from "./CrossEncoderReranker.js"
export * as HfTokenizer from "./HfTokenizer.js"
export * as OnnxModels from "./OnnxModels.js"
export * as OnnxSession from "./OnnxSession.js"
export * as SentenceEmbedder from "./SentenceEmbedder.js"
