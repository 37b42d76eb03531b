import { ModelError, ModelProvider } from "@ragkit/core"
import { ScriptedChatModel } from "@ragkit/core/doubles"
import { Effect } from "effect"

/** A remote chat model that goes away in the middle of its answer (`broken@Flaky`). */
export const Flaky = ModelProvider.plugin({
  kind: "flaky",
  providers: ["Flaky"],
  listModels: () => Effect.succeed([{ name: "broken", type: "chat" as const }]),
  chatModel: () =>
    Effect.map(
      ScriptedChatModel.make({
        modelId: "broken@Flaky",
        replies: () => "an answer that is cut off halfway through",
        fail: { error: new ModelError({ reason: "Unavailable", model: "broken@Flaky", message: "the model went away" }), afterDeltas: 2 }
      }),
      ({ model }) => model
    )
})
