/**
 * RAGFlow's REST sessions, completions and messages (`rest/Sessions.ts`), through the real server:
 * the `echo@Test` model answers with the question; `broken@Flaky` goes away mid-answer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Flaky } from "../support/flakyModel.js"
import { type Account, memoryEngine, type SeedServer, startSeedServer } from "../support/seedServer.js"

let server: SeedServer
let owner: Account
let stranger: Account

beforeAll(async () => {
  server = await startSeedServer(memoryEngine({}, [Flaky]))
  const accounts = await Promise.all(["rest-sessions-owner@example.com", "rest-sessions-stranger@example.com"].map((e) => server.account(e)))
  owner = accounts[0]!
  stranger = accounts[1]!
}, 60_000)
afterAll(() => server.close())

const noAuthorization = { code: 109, message: "no authorization" }

const newChat = async (account: Account, name: string): Promise<string> => {
  const reply = await server.request("POST", "/api/v1/chats", { token: account.apiKey, json: { name, icon: "icon-data", prompt_config: { prologue: "Hi! Ask me." } } })
  expect(reply.body.code).toBe(0)
  return reply.body.data.id
}

const newSession = async (chatId: string, json: Record<string, unknown> = {}) => {
  const reply = await server.request("POST", `/api/v1/chats/${chatId}/sessions`, { token: owner.apiKey, json })
  expect(reply.body.code).toBe(0)
  return reply.body.data
}

const session = async (chatId: string, sessionId: string) =>
  (await server.request("GET", `/api/v1/chats/${chatId}/sessions/${sessionId}`, { token: owner.apiKey })).body.data

/** A completion's raw answer. */
const post = async (path: string, json: unknown, token = owner.apiKey) => {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(json)
  })
  return { status: response.status, contentType: response.headers.get("content-type") ?? "", text: await response.text() }
}

/** The frames of an event stream: each `data:{json}` followed by a blank line. */
const framesOf = (text: string): Array<any> => {
  expect(text.endsWith("\n\n")).toBe(true)
  return text.slice(0, -2).split("\n\n").map((frame) => {
    expect(frame.startsWith("data:")).toBe(true)
    return JSON.parse(frame.slice("data:".length))
  })
}

describe("REST /chats/{chat_id}/sessions", () => {
  it("creates, lists (with the user_id filter), gets, renames and deletes sessions with RAGFlow's shapes", async () => {
    const chatId = await newChat(owner, "sessions")
    const first = await server.request("POST", `/api/v1/chats/${chatId}/sessions`, { token: owner.apiKey, json: {} })
    expect([first.status, first.body.code, first.body.message]).toEqual([200, 0, "success"])
    expect(first.body.data).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      chat_id: chatId,
      name: "New session",
      user_id: owner.caller.userId,
      messages: [{ role: "assistant", content: "Hi! Ask me." }],
      reference: []
    })
    for (const field of ["create_time", "create_date", "update_time", "update_date"]) expect(first.body.data).toHaveProperty(field)
    expect(first.body.data).not.toHaveProperty("dialog_id")
    const theirs = await newSession(chatId, { name: "  support  ", user_id: "end-user-1" })
    expect(theirs).toMatchObject({ name: "support", user_id: "end-user-1" })

    const list = async (query: Record<string, string | number | boolean> = {}) =>
      (await server.request("GET", `/api/v1/chats/${chatId}/sessions`, { token: owner.apiKey, query })).body
    const all = await list()
    expect([all.code, all.message, all.data.map((s: { id: string }) => s.id)]).toEqual([0, "success", [theirs.id, first.body.data.id]])
    expect((await list({ user_id: "end-user-1" })).data.map((s: { id: string }) => s.id)).toEqual([theirs.id])
    expect((await list({ user_id: "nobody" })).data).toEqual([])
    expect((await list({ name: "New session" })).data.map((s: { id: string }) => s.id)).toEqual([first.body.data.id])
    expect((await list({ id: theirs.id })).data.map((s: { id: string }) => s.id)).toEqual([theirs.id])
    expect((await list({ desc: false, page_size: 1 })).data.map((s: { id: string }) => s.id)).toEqual([first.body.data.id])
    expect((await list({ page_size: 0 })).data).toEqual([])
    expect(await list({ orderby: "size" })).toEqual({ code: 101, message: "invalid orderby field: size" })

    const got = await server.request("GET", `/api/v1/chats/${chatId}/sessions/${theirs.id}`, { token: owner.apiKey })
    expect(got.body.data).toMatchObject({ id: theirs.id, avatar: "icon-data", chat_id: chatId })

    const renamed = await server.request("PATCH", `/api/v1/chats/${chatId}/sessions/${theirs.id}`, { token: owner.apiKey, json: { name: " travel " } })
    expect(renamed.body).toMatchObject({ code: 0, message: "success", data: { id: theirs.id, name: "travel" } })
    const put = await server.request("PUT", `/api/v1/chats/${chatId}/sessions/${theirs.id}`, { token: owner.apiKey, json: { name: "trips" } })
    expect(put.body.data.name).toBe("trips")
    for (const [json, message] of [
      [{ name: "" }, "`name` can not be empty"],
      [{ name: 3 }, "`name` can not be empty"],
      [{ messages: [] }, "`messages` cannot be changed"],
      [{ reference: [] }, "`reference` cannot be changed"]
    ] as const) {
      const reply = await server.request("PATCH", `/api/v1/chats/${chatId}/sessions/${theirs.id}`, { token: owner.apiKey, json })
      expect(reply.body).toEqual({ code: 102, message })
    }
    const blank = await server.request("POST", `/api/v1/chats/${chatId}/sessions`, { token: owner.apiKey, json: { name: " " } })
    expect(blank.body).toEqual({ code: 102, message: "`name` can not be empty" })

    const unknown = "e".repeat(32)
    const partly = await server.request("DELETE", `/api/v1/chats/${chatId}/sessions`, { token: owner.apiKey, json: { ids: [theirs.id, unknown] } })
    expect(partly.body).toEqual({ code: 102, message: `The chat doesn't own the session ${unknown}` })
    const removed = await server.request("DELETE", `/api/v1/chats/${chatId}/sessions`, { token: owner.apiKey, json: { ids: [theirs.id] } })
    expect(removed.body).toEqual({ code: 0, message: "success", data: true })
    expect((await list()).data.map((s: { id: string }) => s.id)).toEqual([first.body.data.id])
    const all2 = await server.request("DELETE", `/api/v1/chats/${chatId}/sessions`, { token: owner.apiKey, json: { delete_all: true } })
    expect(all2.body.data).toBe(true)
    expect((await list()).data).toEqual([])
  })

  it("refuses another tenant's chat (109) and a session of another chat (102)", async () => {
    const chatId = await newChat(owner, "guarded")
    const other = await newChat(owner, "guarded-2")
    const s = await newSession(chatId)
    const base = `/api/v1/chats/${chatId}/sessions`
    const calls: Array<[string, string, unknown]> = [
      ["POST", base, { name: "x" }],
      ["GET", base, undefined],
      ["DELETE", base, { ids: [s.id] }],
      ["GET", `${base}/${s.id}`, undefined],
      ["PATCH", `${base}/${s.id}`, { name: "x" }],
      ["PUT", `${base}/${s.id}`, { name: "x" }],
      ["DELETE", `${base}/${s.id}/messages/${s.messages[0].id}`, undefined],
      ["PUT", `${base}/${s.id}/messages/${s.messages[0].id}/feedback`, { thumbup: true }],
      ["POST", `/api/v1/chats/${chatId}/completions`, { question: "hi", session_id: s.id }],
      ["POST", "/api/v1/chat/completions", { question: "hi", chat_id: chatId }]
    ]
    for (const [method, path, json] of calls) {
      const reply = await server.request(method, path, { token: stranger.apiKey, ...(json === undefined ? {} : { json }) })
      expect([reply.status, reply.body], `${method} ${path}`).toEqual([200, noAuthorization])
    }
    const elsewhere = await server.request("GET", `/api/v1/chats/${other}/sessions/${s.id}`, { token: owner.apiKey })
    expect(elsewhere.body).toEqual({ code: 102, message: "Session does not belong to this chat!" })
    const renamed = await server.request("PATCH", `/api/v1/chats/${other}/sessions/${s.id}`, { token: owner.apiKey, json: { name: "x" } })
    expect(renamed.body).toEqual({ code: 102, message: "Session not found!" })
    const asked = await server.request("POST", `/api/v1/chats/${other}/completions`, { token: owner.apiKey, json: { question: "hi", session_id: s.id } })
    expect(asked.body).toEqual({ code: 102, message: "Session does not belong to this chat!" })
    const missing = await server.request("GET", `/api/v1/chats/${chatId}/sessions/${"a".repeat(32)}`, { token: owner.apiKey })
    expect(missing.body).toEqual({ code: 102, message: "Session not found!" })
    expect(await session(chatId, s.id)).toMatchObject({ name: "New session", messages: [{ content: "Hi! Ask me." }] })
  })
})

describe("REST completions", () => {
  it("streams an answer in a session: RAGFlow's frames, the stored answer's frame, then data:true; the session keeps the exchange", async () => {
    const chatId = await newChat(owner, "streaming")
    const s = await newSession(chatId)
    // As ragflow-sdk's Session.ask sends it.
    const reply = await post(`/api/v1/chats/${chatId}/completions`, { question: "what is a lighthouse?", stream: true, session_id: s.id })
    expect([reply.status, reply.contentType]).toEqual([200, "text/event-stream; charset=utf-8"])
    const frames = framesOf(reply.text)
    expect(frames[frames.length - 1]).toEqual({ code: 0, message: "", data: true })
    const answers = frames.slice(0, -1)
    expect(answers.every((f) => f.code === 0 && f.message === "" && f.data.session_id === s.id && f.data.chat_id === chatId)).toBe(true)
    const questionId: string = answers[0].data.id
    expect(answers.every((f) => f.data.id === questionId)).toBe(true)
    const pieces = answers.filter((f) => !f.data.final)
    expect(pieces.length).toBeGreaterThan(0)
    expect(pieces.map((f) => f.data.answer).join("")).toContain("what is a lighthouse?")
    const last = answers[answers.length - 1].data
    expect(last).toMatchObject({ final: true, answer: "", reference: { chunks: [] }, message_id: expect.stringMatching(/^[0-9a-f]{32}$/) })

    const stored = await session(chatId, s.id)
    expect(stored.messages.map((m: { role: string; id: string }) => [m.role, m.id])).toEqual([
      ["assistant", s.messages[0].id],
      ["user", questionId],
      ["assistant", last.message_id]
    ])

    // The next question continues the stored history (only the question is sent).
    const second = await post(`/api/v1/chats/${chatId}/completions`, { question: "and a lightship?", session_id: s.id, stream: false })
    expect(second.contentType).toMatch(/^application\/json/)
    const body = JSON.parse(second.text)
    expect(body).toMatchObject({ code: 0, message: "success", data: { answer: expect.stringContaining("and a lightship?"), session_id: s.id, chat_id: chatId } })
    expect((await session(chatId, s.id)).messages.map((m: { content: string }) => m.content)).toEqual([
      "Hi! Ask me.",
      "what is a lighthouse?",
      expect.stringContaining("what is a lighthouse?"),
      "and a lightship?",
      body.data.answer
    ])
  })

  it("POST /chat/completions with chat_id makes a session; the singular /completion answers JSON as the guide reads it", async () => {
    const chatId = await newChat(owner, "guide")
    const reply = await post("/api/v1/chat/completions", { chat_id: chatId, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hello there" }] })
    expect(reply.contentType).toBe("text/event-stream; charset=utf-8")
    const frames = framesOf(reply.text)
    const sessionId: string = frames[0].data.session_id
    const made = await session(chatId, sessionId)
    expect(made).toMatchObject({ name: "New session", user_id: owner.caller.userId })
    expect(made.messages.map((m: { role: string }) => m.role)).toEqual(["assistant", "user", "assistant"])

    // The seed's Python guide: ragflow.post(f"/chats/{chat.id}/completion", json={"messages": messages}).json()["data"]["answer"]
    const guide = await post(`/api/v1/chats/${chatId}/completion`, { messages: [{ role: "user", content: "What is RAGFlow?" }] })
    expect([guide.status, guide.contentType]).toEqual([200, expect.stringMatching(/^application\/json/)])
    expect(JSON.parse(guide.text).data.answer).toContain("What is RAGFlow?")
    // With stream it streams, as the plural path.
    const streamed = await post(`/api/v1/chats/${chatId}/completion`, { messages: [{ role: "user", content: "again" }], stream: true })
    expect(framesOf(streamed.text).pop()).toEqual({ code: 0, message: "", data: true })
  })

  it("a model failing mid-answer sends the code-500 frame, then data:true; the partial answer is stored", async () => {
    const chatId = await newChat(owner, "flaky")
    const s = await newSession(chatId)
    const reply = await post(`/api/v1/chats/${chatId}/completions`, { question: "tell me", session_id: s.id, llm_id: "broken@Flaky" })
    const frames = framesOf(reply.text)
    expect(frames[frames.length - 1]).toEqual({ code: 0, message: "", data: true })
    const failure = frames[frames.length - 2]
    expect(failure).toMatchObject({ code: 500, data: { answer: expect.stringMatching(/^\*\*ERROR\*\*/), reference: [] } })
    const partial = frames.slice(0, -2).map((f) => f.data.answer).join("")
    expect(partial.length).toBeGreaterThan(0)
    const stored = (await session(chatId, s.id)).messages
    expect(stored[stored.length - 1]).toMatchObject({ role: "assistant", content: partial, incomplete: true })
  })

  it("refuses bad requests with RAGFlow's codes and messages", async () => {
    const chatId = await newChat(owner, "strict")
    const path = `/api/v1/chats/${chatId}/completions`
    const cases: Array<[unknown, number, string | RegExp]> = [
      [{}, 101, "required argument are missing: messages"],
      [{ messages: [] }, 101, "`messages` must be a non-empty list."],
      [{ messages: ["hi"] }, 101, "Every item in `messages` must be an object."],
      [{ messages: [{ role: "user" }] }, 101, "Every item in `messages` must include `role` and `content`."],
      [{ messages: [{ role: "system", content: "x" }] }, 101, "`messages` must contain a user message."],
      [{ messages: [{ role: "user", content: "x" }, { role: "assistant", content: "y" }] }, 101, "The last message must be from user."],
      [{ question: 5 }, 101, /content/],
      [{ question: "x", stream: "yes" }, 101, /^stream/],
      [{ question: "x", temperature: 9 }, 101, /^temperature/],
      [{ question: "x", session_id: "nope" }, 102, "Session not found!"],
      [{ question: "x", llm_id: "gpt-9@Nowhere" }, 102, /gpt-9@Nowhere/]
    ]
    for (const [json, code, message] of cases) {
      const reply = await server.request("POST", path, { token: owner.apiKey, json })
      expect([reply.status, reply.body.code], JSON.stringify(json)).toEqual([200, code])
      if (typeof message === "string") expect(reply.body.message).toBe(message)
      else expect(reply.body.message).toMatch(message)
    }
    const noChat = await server.request("POST", "/api/v1/chat/completions", { token: owner.apiKey, json: { question: "x" } })
    expect(noChat.body).toEqual({ code: 101, message: "`chat_id` is required" })
    const sessionOnly = await server.request("POST", "/api/v1/chat/completions", { token: owner.apiKey, json: { question: "x", session_id: "a".repeat(32) } })
    expect(sessionOnly.body).toEqual({ code: 102, message: "`chat_id` is required when `session_id` is provided." })
    const unknownChat = await server.request("POST", `/api/v1/chats/${"0".repeat(32)}/completions`, { token: owner.apiKey, json: { question: "x" } })
    expect(unknownChat.body).toEqual(noAuthorization)
    const notJson = await server.request("POST", path, { token: owner.apiKey, body: "question=x", headers: { "content-type": "application/x-www-form-urlencoded" } })
    expect([notJson.body.code, notJson.body.message]).toEqual([101, "Unsupported content type: Expected application/json, got application/x-www-form-urlencoded"])
    const anonymous = await server.request("POST", path, { json: { question: "x" } })
    expect(anonymous.status).toBe(401)
    // Nothing was stored by the refused requests.
    expect((await server.request("GET", `/api/v1/chats/${chatId}/sessions`, { token: owner.apiKey })).body.data).toEqual([])
  })
})

describe("REST messages", () => {
  it("feedback by the answer's id or the question's (RAGFlow's one id), and delete takes a question with its answer", async () => {
    const chatId = await newChat(owner, "messages")
    const s = await newSession(chatId)
    const ask = async (question: string) => JSON.parse((await post(`/api/v1/chats/${chatId}/completions`, { question, session_id: s.id, stream: false })).text).data
    const first = await ask("first question")
    const second = await ask("second question")
    const base = `/api/v1/chats/${chatId}/sessions/${s.id}/messages`

    const down = await server.request("PUT", `${base}/${first.message_id}/feedback`, { token: owner.apiKey, json: { thumbup: false, feedback: "wrong" } })
    expect(down.body).toMatchObject({ code: 0, message: "success" })
    expect(down.body.data.messages.find((m: { id: string }) => m.id === first.message_id)).toMatchObject({ thumbup: false, feedback: "wrong" })
    const up = await server.request("PUT", `${base}/${second.id}/feedback`, { token: owner.apiKey, json: { thumbup: true } })
    expect(up.body.data.messages.find((m: { id: string }) => m.id === second.message_id)).toMatchObject({ thumbup: true, feedback: null })
    const notBoolean = await server.request("PUT", `${base}/${second.id}/feedback`, { token: owner.apiKey, json: { thumbup: "yes" } })
    expect(notBoolean.body).toEqual({ code: 102, message: "thumbup must be a boolean" })
    const unknown = await server.request("PUT", `${base}/${"b".repeat(32)}/feedback`, { token: owner.apiKey, json: { thumbup: true } })
    expect(unknown.body.code).toBe(0)

    const removed = await server.request("DELETE", `${base}/${first.id}`, { token: owner.apiKey })
    expect(removed.body).toMatchObject({ code: 0, message: "success", data: { id: s.id } })
    expect(removed.body.data.messages.map((m: { id: string }) => m.id)).toEqual([s.messages[0].id, second.id, second.message_id])
    const again = await server.request("DELETE", `${base}/${first.id}`, { token: owner.apiKey })
    expect(again.body.data.messages).toHaveLength(3)
  })
})
