/** Chat models of the `Scripted` provider, registered by the tests under fresh names (`model-N@Scripted`). */
import { Effect, Option } from "effect"
import { ModelError } from "../../src/domain/Errors.js"
import type * as ChatModel from "../../src/ports/ChatModel.js"
import * as ModelProvider from "../../src/ports/ModelProvider.js"
import * as ScriptedChatModel from "../../src/testing/ScriptedChatModel.js"

const chatModels = new Map<string, ChatModel.ChatModelService>()

/** The plugin serving the registered models; an unknown name is `NotConfigured`. */
export const ScriptedProvider = ModelProvider.plugin({
  kind: "scripted",
  providers: ["Scripted"],
  chatModel: ({ model }) =>
    Option.match(Option.fromNullable(chatModels.get(model)), {
      onNone: () => Effect.fail(new ModelError({ reason: "NotConfigured", model, message: `no scripted model ${model}` })),
      onSome: Effect.succeed
    })
})

let registered = 0
/** A chat model under a fresh `llm_id`. */
export const register = (model: ChatModel.ChatModelService) => {
  const name = `model-${++registered}`
  chatModels.set(name, model)
  return `${name}@Scripted`
}

/** A scripted chat model under a fresh `llm_id`, and its control. */
export const scripted = (options: ScriptedChatModel.ScriptedChatModelOptions) =>
  Effect.map(ScriptedChatModel.make(options), ({ control, model }) => ({ llm_id: register(model), control }))
