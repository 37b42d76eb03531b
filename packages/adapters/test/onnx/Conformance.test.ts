/** The core conformance suites on the fixture models, resolved through `Models` as `<folder>@ONNX`. */
import { Embedder, Models, Reranker } from "@ragkit/core"
import { EmbedderSuite, RerankerSuite } from "@ragkit/core/testing"
import { Effect, Layer } from "effect"
import { caller, ModelsLive } from "./models.js"

const EmbedderLive = Layer.effect(
  Embedder.Embedder,
  Effect.flatMap(Models.Models, (models) => models.embedder(caller, "tiny-bert-embedder@ONNX"))
).pipe(Layer.provide(ModelsLive))

const RerankerLive = Layer.effect(
  Reranker.Reranker,
  Effect.flatMap(Models.Models, (models) => models.reranker(caller, "tiny-bert-reranker@ONNX"))
).pipe(Layer.provide(ModelsLive))

EmbedderSuite("tiny-bert-embedder@ONNX", EmbedderLive, { normalized: true })

// Random weights: the scores mean nothing, so no relevance check.
RerankerSuite("tiny-bert-reranker@ONNX", RerankerLive, { relevance: false })
