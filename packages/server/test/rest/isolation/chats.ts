/**
 * Isolation cases of `rest/Chats.ts` and `rest/Sessions.ts`. Another tenant's chat is RAGFlow's
 * code 109 (`no authorization`, as for an unknown chat). Routes that take a session are called with
 * the stranger's own chat and the owner's session: code 102 (`Session not found!`, or the chat does
 * not own it), as for an unknown session.
 */
import { type Cases, type Context, dataOf, type RestCase, type Send } from "./cases.js"

const noAuthorization = 109

/** Model names and a client's free-form user id name no record of a tenant. */
const notRecords = ["llm_id", "rerank_id", "tenant_id", "user_id"]

const chatOf = async ({ owner, send, unique }: Context, who = owner): Promise<string> =>
  dataOf(await send("restChats.createChat", who, { json: { name: unique("chat") } })).id

const datasetOf = async ({ owner, server, unique }: Context): Promise<string> =>
  (await server.request("POST", "/api/v1/kbs/create", { token: owner.apiKey, json: { name: unique("kb") } })).body.data.kb_id

/** The owner's chat with a session holding one exchange; the stranger's own chat. */
const exchange = async (ctx: Context) => {
  const chatId = await chatOf(ctx)
  const session = dataOf(await ctx.send("restSessions.createSession", ctx.owner, { params: { chat_id: chatId }, json: {} }))
  const answer = dataOf(await ctx.send("restSessions.chatCompletions", ctx.owner, {
    params: { chat_id: chatId },
    json: { question: "hello", session_id: session.id, stream: false }
  }))
  return { chatId, sessionId: session.id as string, questionId: answer.id as string, strangerChat: await chatOf(ctx, ctx.stranger) }
}

/** What the owner sees of a chat. */
const chatBack = async ({ owner, send }: Context, sent: Send) => dataOf(await send("restChats.getChat", owner, { params: { chat_id: sent.params!.chat_id! } }))

/** What the owner sees of its chat's sessions. */
const sessionsBack = (chatId: (sent: Send) => string) => async ({ owner, send }: Context, sent: Send) =>
  dataOf(await send("restSessions.listSessions", owner, { params: { chat_id: chatId(sent) } }))

/** A case for a route that takes one chat in its path: the owner's, refused with 109. */
const onChat = (json?: (ctx: Context) => Promise<unknown>): RestCase => ({
  setup: async (ctx) => ({ params: { chat_id: await chatOf(ctx) }, ...(json === undefined ? {} : { json: await json(ctx) }) }),
  readBack: async (ctx, sent) => ({ chat: await chatBack(ctx, sent), sessions: await sessionsBack((s) => s.params!.chat_id!)(ctx, sent) }),
  code: noAuthorization,
  notRecords
})

/** A case for a route that takes a session: the stranger's chat with the owner's session (and message). */
const onSession = (withMessage: boolean, json?: Record<string, unknown>): RestCase => {
  const owners = new Map<string, string>()
  return {
    setup: async (ctx) => {
      const made = await exchange(ctx)
      owners.set(made.sessionId, made.chatId)
      return {
        params: { chat_id: made.strangerChat, session_id: made.sessionId, ...(withMessage ? { message_id: made.questionId } : {}) },
        ...(json === undefined ? {} : { json })
      }
    },
    readBack: sessionsBack((sent) => owners.get(sent.params!.session_id!)!),
    notRecords
  }
}

/** A completion with the stranger's chat and the owner's session. */
const completion = (chatInBody: boolean): RestCase => {
  const owners = new Map<string, string>()
  return {
    setup: async (ctx) => {
      const made = await exchange(ctx)
      owners.set(made.sessionId, made.chatId)
      const json = { question: "mine now?", session_id: made.sessionId, conversation_id: made.sessionId, stream: false }
      return chatInBody ? { json: { ...json, chat_id: made.strangerChat } } : { params: { chat_id: made.strangerChat }, json }
    },
    readBack: sessionsBack((sent) => owners.get((sent.json as { session_id: string }).session_id)!),
    notRecords
  }
}

/** Deleting the owner's session from the stranger's chat. */
const deleteSessions = (): RestCase => {
  const owners = new Map<string, string>()
  return {
    setup: async (ctx) => {
      const made = await exchange(ctx)
      owners.set(made.sessionId, made.chatId)
      return { params: { chat_id: made.strangerChat }, json: { ids: [made.sessionId] } }
    },
    readBack: sessionsBack((sent) => owners.get((sent.json as { ids: Array<string> }).ids[0]!)!)
  }
}

export const cases: Cases = {
  "restChats.createChat": {
    setup: async (ctx) => ({ json: { name: ctx.unique("theirs"), dataset_ids: [await datasetOf(ctx)] } }),
    // The stranger made no chat over the owner's dataset.
    readBack: async ({ stranger, send }) => dataOf(await send("restChats.listChats", stranger)).total,
    notRecords
  },
  "restChats.listChats": {
    setup: async (ctx) => ({ query: { id: await chatOf(ctx) } }),
    readBack: async ({ owner, send }, sent) => dataOf(await send("restChats.listChats", owner, { query: sent.query! })),
    // RAGFlow lists the caller's chats with that id: none.
    code: 0
  },
  "restChats.getChat": onChat(),
  "restChats.updateChat": onChat(async (ctx) => ({ name: ctx.unique("taken"), dataset_ids: [await datasetOf(ctx)] })),
  "restChats.patchChat": onChat(async (ctx) => ({ name: ctx.unique("taken"), dataset_ids: [await datasetOf(ctx)] })),
  "restChats.deleteChat": onChat(),
  "restChats.deleteChats": {
    setup: async (ctx) => ({ json: { ids: [await chatOf(ctx)] } }),
    readBack: async ({ owner, send }, sent) => dataOf(await send("restChats.getChat", owner, { params: { chat_id: (sent.json as { ids: Array<string> }).ids[0]! } }))
  },
  "restSessions.createSession": onChat(async () => ({ name: "intruder", user_id: "someone" })),
  "restSessions.listSessions": {
    ...onChat(),
    setup: async (ctx) => {
      const made = await exchange(ctx)
      return { params: { chat_id: made.chatId }, query: { id: made.sessionId, user_id: ctx.owner.caller.userId } }
    }
  },
  "restSessions.deleteSessions": deleteSessions(),
  "restSessions.getSession": onSession(false),
  "restSessions.patchSession": onSession(false, { name: "renamed" }),
  "restSessions.updateSession": onSession(false, { name: "renamed" }),
  "restSessions.deleteMessage": onSession(true),
  "restSessions.messageFeedback": onSession(true, { thumbup: false, feedback: "bad" }),
  "restSessions.chatCompletions": completion(false),
  "restSessions.chatCompletion": completion(false),
  "restSessions.completions": completion(true)
}
