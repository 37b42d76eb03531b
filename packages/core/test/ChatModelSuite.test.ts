import type { ChatMessage } from "../src/ports/ChatModel.js"
import { ChatModelSuite, ScriptedChatModel } from "../src/testing/index.js"

const lastUser = (messages: ReadonlyArray<ChatMessage>) =>
  [...messages].reverse().find((message) => message.role === "user")?.content ?? ""

ChatModelSuite(
  "scripted",
  ScriptedChatModel.layer({ replies: (messages) => `You asked: ${lastUser(messages)} The answer is blue.` }),
  { deterministic: true }
)
