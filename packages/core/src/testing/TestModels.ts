/**
 * A model provider plugin for tests and offline demos, serving the provider name `Test`:
 *
 * - `hash-<dimensions>@Test`: the deterministic hash embedder (e.g. `hash-64@Test`);
 * - `slowhash-<dimensions>-<ms>@Test`: the same, taking `ms` per text (to watch long work: progress, cancel, crashes);
 * - `echo@Test`: a chat model that answers with the last user message, streamed;
 * - `overlap@Test`: the token-overlap reranker.
 */
import { Duration, Effect, Layer, Option } from "effect"
import * as Embedder from "../ports/Embedder.js"
import { ModelError } from "../domain/Errors.js"
import * as ModelProvider from "../ports/ModelProvider.js"
import * as HashEmbedder from "./HashEmbedder.js"
import * as OverlapReranker from "./OverlapReranker.js"
import * as ScriptedChatModel from "./ScriptedChatModel.js"

const unknown = (model: string, what: string) =>
  new ModelError({ reason: "NotConfigured", model: `${model}@Test`, message: `Unsupported model: ${model}@Test (not a ${what} of the Test provider)` })

/** The hash embedder a name asks for: its dimensions, and the time per text of a slow one. */
const hashModel = (model: string): Option.Option<{ readonly dimensions: number; readonly perTextMs: number | undefined }> => {
  const match = /^(slow)?hash-(\d{1,5})(?:-(\d{1,6}))?$/.exec(model)
  const dimensions = match === null ? NaN : Number(match[2])
  return match === null || !(dimensions >= 2 && dimensions <= 4096) || (match[1] === undefined) !== (match[3] === undefined)
    ? Option.none()
    : Option.some({ dimensions, perTextMs: match[3] === undefined ? undefined : Number(match[3]) })
}

/** What `listModels` shows; `describe` also knows every `hash-<n>` and `slowhash-<n>-<ms>`. */
const listed: ReadonlyArray<ModelProvider.ListedModel> = [
  { name: "hash-64", type: "embedding" },
  { name: "echo", type: "chat" },
  { name: "overlap", type: "rerank" }
]

export const plugin: ModelProvider.ModelPlugin = {
  kind: "test",
  providers: ["Test"],
  listModels: () => Effect.succeed(listed),
  describe: ({ model }) =>
    Effect.succeed(
      Option.isSome(hashModel(model)) ? Option.some({ name: model, type: "embedding" as const }) : Option.fromNullable(listed.find((m) => m.name === model))
    ),
  embedder: ({ model }) => {
    const hash = hashModel(model)
    if (Option.isNone(hash)) return Effect.fail(unknown(model, "hash-<dimensions> embedder"))
    const { dimensions, perTextMs } = hash.value
    const fast = HashEmbedder.make({ dimensions, modelId: `${model}@Test` })
    if (perTextMs === undefined) return Effect.succeed(fast)
    const perText = Duration.millis(perTextMs)
    return Effect.succeed(
      Embedder.make({
        modelId: `${model}@Test`,
        dimensions,
        maxBatchSize: 1,
        embedBatch: (texts) => Effect.delay(fast.embedDocuments(texts), perText)
      })
    )
  },
  chatModel: ({ model }) =>
    model === "echo"
      ? Effect.map(
          ScriptedChatModel.make({
            modelId: "echo@Test",
            replies: (messages) => [...messages].reverse().find((m) => m.role === "user")?.content ?? ""
          }),
          ({ model }) => model
        )
      : Effect.fail(unknown(model, "chat model")),
  reranker: ({ model }) =>
    model === "overlap" ? Effect.succeed(OverlapReranker.make({ modelId: "overlap@Test" })) : Effect.fail(unknown(model, "reranker"))
}

/** Registers the `Test` provider with `Models`. */
export const layer: Layer.Layer<never, never, ModelProvider.ModelPlugins> = ModelProvider.plugin(plugin)
