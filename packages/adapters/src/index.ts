/**
 * @ragkit/adapters: model provider plugins. Each is also a subpath of its own:
 *
 * | subpath | provider kind | serves |
 * |---|---|---|
 * | `@ragkit/adapters/builtin` | `builtin` (provider `Builtin`) | `glove-100d@Builtin`: GloVe word vectors as an ONNX embedding bag; no download |
 * | `@ragkit/adapters/onnx` | `onnx` (provider `ONNX`) | `<folder>@ONNX`: sentence-transformers embedders and cross-encoder rerankers on onnxruntime-node (CPU or CUDA) |
 * | `@ragkit/adapters/openai` | `openai-compatible` | embeddings, rerank and chat of any OpenAI-compatible API (tenant-configured providers) |
 * | `@ragkit/adapters/ollama` | `ollama` | embeddings and chat of an Ollama server |
 */
export * from "./builtin/index.js"
export * from "./onnx/index.js"
export * as OpenAi from "./openai/index.js"
export * as Ollama from "./ollama/index.js"
