/** The core conformance suites against the `ollama` adapters, resolved through `Models`. */
import { ChatModel, Embedder } from "@ragkit/core"
import { ChatModelSuite, EmbedderSuite } from "@ragkit/core/testing"
import { Effect, Layer } from "effect"
import { Env, Servers, tenantWithProvider } from "./env.js"

EmbedderSuite(
  "ollama /api/embed",
  Layer.effect(
    Embedder.Embedder,
    Effect.flatMap(tenantWithProvider({ settings: { max_batch_size: 3 } }), ({ caller, models }) => models.embedder(caller, "nomic-embed-text@local"))
  ).pipe(Layer.provide(Env)),
  { normalized: true }
)

EmbedderSuite(
  "ollama legacy /api/embeddings",
  Layer.effect(
    Embedder.Embedder,
    Effect.gen(function*() {
      const { legacy } = yield* Servers
      const { caller, models } = yield* tenantWithProvider({ name: "old", apiBase: legacy.url })
      return yield* models.embedder(caller, "nomic-embed-text@old")
    })
  ).pipe(Layer.provide(Env)),
  { normalized: true }
)

ChatModelSuite(
  "ollama /api/chat (NDJSON)",
  Layer.effect(
    ChatModel.ChatModel,
    Effect.flatMap(tenantWithProvider(), ({ caller, models }) => models.chatModel(caller, "llama3.2@local"))
  ).pipe(Layer.provide(Env)),
  { deterministic: true }
)
