import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Flaky } from "../support/flakyModel.js"
import { type Account, memoryEngine, type SeedServer, startSeedServer } from "../support/seedServer.js"

let server: SeedServer
let owner: Account
let stranger: Account

beforeAll(async () => {
  server = await startSeedServer(memoryEngine({}, [Flaky]))
  const accounts = await Promise.all(["conv-owner@example.com", "conv-stranger@example.com"].map((email) => server.account(email)))
  owner = accounts[0]!
  stranger = accounts[1]!
}, 60_000)
afterAll(() => server.close())

const documented = ["id", "dialog_id", "name", "message", "reference", "user_id", "create_time", "create_date", "update_time", "update_date"]

const hex32 = () => randomUUID().replaceAll("-", "")

const newDialog = async (account: Account, json: Record<string, unknown> = {}): Promise<string> => {
  const reply = await server.request("POST", "/api/v1/dialogs/set", {
    token: account.apiKey,
    json: { name: "assistant", icon: "icon-data", prompt_config: { prologue: "Hi! Ask me." }, ...json }
  })
  expect(reply.status).toBe(200)
  return reply.body.data.id
}

const newConversation = async (token: string, dialogId: string, name = "chat"): Promise<string> => {
  const reply = await server.request("POST", "/api/v1/conversations/set", { token, json: { dialog_id: dialogId, is_new: true, conversation_id: hex32(), name } })
  expect(reply.status).toBe(200)
  return reply.body.data.id
}

const read = async (token: string, conversationId: string) =>
  server.request("GET", "/api/v1/conversations/get", { token, query: { conversation_id: conversationId } })

/** A completion's raw server-sent events. */
const completionStream = async (token: string, json: Record<string, unknown>) => {
  const response = await fetch(`${server.url}/api/v1/conversations/completion`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(json)
  })
  const text = await response.text()
  return { status: response.status, contentType: response.headers.get("content-type"), text }
}

/** The frames of an event stream: each `data:{json}` followed by a blank line. */
const framesOf = (text: string): Array<any> => {
  expect(text.endsWith("\n\n")).toBe(true)
  return text.slice(0, -2).split("\n\n").map((frame) => {
    expect(frame.startsWith("data:")).toBe(true)
    return JSON.parse(frame.slice("data:".length))
  })
}

describe("/api/v1/conversations", () => {
  it("set creates a conversation with the client's id, renames it, and refuses a taken id", async () => {
    const dialogId = await newDialog(owner)
    const id = hex32()
    const created = await server.request("POST", "/api/v1/conversations/set", {
      token: owner.apiKey,
      json: { dialog_id: dialogId, is_new: true, conversation_id: id, name: "  first chat  " }
    })
    expect(created.status).toBe(200)
    expect(created.body).toMatchObject({ code: 0, message: "success" })
    for (const field of documented) expect(created.body.data).toHaveProperty(field)
    expect(created.body.data).toMatchObject({
      id,
      dialog_id: dialogId,
      name: "first chat",
      user_id: owner.caller.userId,
      message: [{ role: "assistant", content: "Hi! Ask me." }],
      reference: []
    })

    const renamed = await server.request("POST", "/api/v1/conversations/set", {
      token: owner.apiKey,
      json: { dialog_id: dialogId, is_new: false, conversation_id: id, name: "renamed" }
    })
    expect(renamed.status).toBe(200)
    for (const field of documented) expect(renamed.body.data).toHaveProperty(field)
    expect(renamed.body.data).toMatchObject({ id, name: "renamed", message: [{ content: "Hi! Ask me." }] })

    const taken = await server.request("POST", "/api/v1/conversations/set", {
      token: owner.apiKey,
      json: { dialog_id: dialogId, is_new: true, conversation_id: id }
    })
    expect([taken.status, taken.body.code]).toEqual([400, 102])

    const generated = await server.request("POST", "/api/v1/conversations/set", { token: owner.apiKey, json: { dialog_id: dialogId, is_new: true } })
    expect(generated.status).toBe(200)
    expect(generated.body.data).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{32}$/), name: "New conversation" })

    const got = await read(owner.session, id)
    expect(got.status).toBe(200)
    for (const field of [...documented, "avatar"]) expect(got.body.data).toHaveProperty(field)
    expect(got.body.data).toMatchObject({ id, name: "renamed", avatar: "icon-data" })
  })

  it("completion without stream answers one envelope and stores the exchange", async () => {
    const dialogId = await newDialog(owner)
    const id = await newConversation(owner.apiKey, dialogId)
    const question = randomUUID()
    const answered = await server.request("POST", "/api/v1/conversations/completion", {
      token: owner.apiKey,
      json: {
        conversation_id: id,
        messages: [{ role: "assistant", content: "Hi! Ask me." }, { role: "user", content: "what is the answer?", id: question }],
        temperature: 0.1,
        max_tokens: 100,
        stream: false
      }
    })
    expect(answered.status).toBe(200)
    expect(answered.headers.get("content-type")).toMatch(/^application\/json/)
    expect(answered.body).toMatchObject({
      code: 0,
      data: {
        // The Test chat model echoes the question.
        answer: "what is the answer?",
        reference: { chunks: [], doc_aggs: [], total: 0 },
        session_id: id,
        conversation_id: id,
        id: expect.stringMatching(/^[0-9a-f]{32}$/),
        incomplete: false
      }
    })
    expect(answered.body.data.message_id).toBe(answered.body.data.id)

    const got = await read(owner.apiKey, id)
    expect(got.body.data.message).toMatchObject([
      { role: "assistant", content: "Hi! Ask me." },
      // A UUID message id is kept without its dashes.
      { role: "user", content: "what is the answer?", id: question.replaceAll("-", "") },
      { role: "assistant", content: "what is the answer?", id: answered.body.data.id }
    ])
    expect(got.body.data.reference).toEqual([{ chunks: [], doc_aggs: [], total: 0 }])
  })

  it("completion streams RAGFlow's server-sent events by default, ending with data true", async () => {
    const dialogId = await newDialog(owner)
    const id = await newConversation(owner.apiKey, dialogId)
    const question = "tell me something longer than one piece, please"
    const reply = await completionStream(owner.apiKey, { conversation_id: id, messages: [{ role: "user", content: question }] })
    expect(reply.status).toBe(200)
    expect(reply.contentType).toMatch(/^text\/event-stream/)
    const frames = framesOf(reply.text)
    expect(frames.at(-1)).toEqual({ code: 0, message: "", data: true })
    const answer = frames.slice(0, -1)
    for (const frame of answer) expect(frame).toMatchObject({ code: 0, message: "", data: { answer: expect.any(String), reference: expect.anything() } })
    const pieces = answer.filter((f) => f.data.final === false)
    expect(pieces.length).toBeGreaterThan(1)
    expect(pieces.map((f) => f.data.answer).join("")).toBe(question)
    const final = answer.at(-1)
    expect(final.data).toMatchObject({
      final: true,
      answer: "",
      reference: { chunks: [], doc_aggs: [], total: 0 },
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      session_id: id,
      usage: { completion_tokens: expect.any(Number) }
    })

    const got = await read(owner.apiKey, id)
    expect(got.body.data.message.at(-1)).toMatchObject({ role: "assistant", content: question, id: final.data.id })

    // A request that fails before its answer starts gets its status, not a stream.
    const unknown = await completionStream(owner.apiKey, { conversation_id: hex32(), messages: [{ role: "user", content: "hi" }] })
    expect(unknown.status).toBe(404)
    expect(unknown.contentType).toMatch(/^application\/json/)
    expect(JSON.parse(unknown.text)).toMatchObject({ code: 102 })
  })

  it("a model failing mid-answer ends the stream with RAGFlow's error frame and keeps what was said", async () => {
    const dialogId = await newDialog(owner, { llm_id: "broken@Flaky" })
    const id = await newConversation(owner.apiKey, dialogId)
    const reply = await completionStream(owner.apiKey, { conversation_id: id, messages: [{ role: "user", content: "go on" }] })
    expect(reply.status).toBe(200)
    const frames = framesOf(reply.text)
    expect(frames.at(-1)).toEqual({ code: 0, message: "", data: true })
    // Two pieces of four characters, then the failure.
    const said = frames.slice(0, -2)
    expect(said.map((f) => f.data.answer).join("")).toBe("an answe")
    const failed = frames.at(-2)
    expect(failed).toMatchObject({ code: 500, data: { answer: expect.stringMatching(/^\*\*ERROR\*\*: /), reference: [] } })
    // A fault's message carries only the request id.
    expect(failed.message).toMatch(/^internal error \(request [0-9a-f]{32}\)$/)
    const got = await read(owner.apiKey, id)
    expect(got.body.data.message.at(-1)).toMatchObject({ role: "assistant", content: "an answe", incomplete: true })
  })

  it("completion takes the prompt's parameters from the body and llm_id for this answer", async () => {
    const dialogId = await newDialog(owner, {
      llm_id: "missing@Test",
      prompt_config: { system: "Answer in {lang}.", parameters: [{ key: "lang", optional: false }] }
    })
    const id = await newConversation(owner.apiKey, dialogId)
    const messages = [{ role: "user", content: "bonjour" }]
    const noLang = await server.request("POST", "/api/v1/conversations/completion", { token: owner.apiKey, json: { conversation_id: id, messages, llm_id: "echo@Test", stream: false } })
    expect([noLang.status, noLang.body.code]).toEqual([400, 101])
    expect(noLang.body.message).toBe("Parameter 'lang' is required by the dialog's prompt")
    const dialogModel = await server.request("POST", "/api/v1/conversations/completion", { token: owner.apiKey, json: { conversation_id: id, messages, lang: "French", stream: false } })
    expect([dialogModel.status, dialogModel.body.code]).toEqual([400, 102])
    expect(dialogModel.body.message).toMatch(/missing@Test/)
    const overridden = await server.request("POST", "/api/v1/conversations/completion", {
      token: owner.apiKey,
      json: { conversation_id: id, messages, lang: "French", llm_id: "echo@Test", stream: false }
    })
    expect([overridden.status, overridden.body.data.answer]).toEqual([200, "bonjour"])
  })

  it("thumbup records feedback on an answer and delete_msg removes a question with its answer", async () => {
    const dialogId = await newDialog(owner)
    const id = await newConversation(owner.apiKey, dialogId)
    const question = randomUUID()
    const answered = await server.request("POST", "/api/v1/conversations/completion", {
      token: owner.apiKey,
      json: { conversation_id: id, messages: [{ role: "assistant", content: "Hi! Ask me." }, { role: "user", content: "first", id: question }], stream: false }
    })
    const answerId = answered.body.data.id

    const down = await server.request("POST", "/api/v1/conversations/thumbup", {
      token: owner.apiKey,
      json: { conversation_id: id, message_id: answerId, thumbup: false, feedback: "too short" }
    })
    expect(down.status).toBe(200)
    for (const field of documented) expect(down.body.data).toHaveProperty(field)
    expect(down.body.data.message.at(-1)).toMatchObject({ id: answerId, role: "assistant", thumbup: false, feedback: "too short" })
    const up = await server.request("POST", "/api/v1/conversations/thumbup", { token: owner.apiKey, json: { conversation_id: id, message_id: answerId, thumbup: true } })
    expect(up.body.data.message.at(-1)).toMatchObject({ thumbup: true, feedback: null })
    const onQuestion = await server.request("POST", "/api/v1/conversations/thumbup", { token: owner.apiKey, json: { conversation_id: id, message_id: question, thumbup: true } })
    expect([onQuestion.status, onQuestion.body.code]).toEqual([400, 101])
    expect(onQuestion.body.message).toMatch(/assistant/)
    const noThumb = await server.request("POST", "/api/v1/conversations/thumbup", { token: owner.apiKey, json: { conversation_id: id, message_id: answerId } })
    expect([noThumb.status, noThumb.body.message]).toEqual([400, "thumbup is required"])

    const unknownMessage = await server.request("POST", "/api/v1/conversations/delete_msg", { token: owner.apiKey, json: { conversation_id: id, message_id: hex32() } })
    expect([unknownMessage.status, unknownMessage.body.code]).toEqual([404, 102])
    // The id as the client sent it (a UUID): the question and its answer go.
    const deleted = await server.request("POST", "/api/v1/conversations/delete_msg", { token: owner.apiKey, json: { conversation_id: id, message_id: question } })
    expect(deleted.status).toBe(200)
    for (const field of documented) expect(deleted.body.data).toHaveProperty(field)
    expect(deleted.body.data.message).toEqual([expect.objectContaining({ role: "assistant", content: "Hi! Ask me." })])
    expect(deleted.body.data.reference).toEqual([])
    const noMessage = await server.request("POST", "/api/v1/conversations/delete_msg", { token: owner.apiKey, json: { conversation_id: id } })
    expect([noMessage.status, noMessage.body.message]).toEqual([400, "message_id is required"])
  })

  it("refuses bad input with 400 naming the field", async () => {
    const dialogId = await newDialog(owner)
    const id = await newConversation(owner.apiKey, dialogId)
    const cases: Array<[string, string, Record<string, unknown>, RegExp]> = [
      ["POST", "/api/v1/conversations/set", { is_new: true }, /^dialog_id is required$/],
      ["POST", "/api/v1/conversations/set", { dialog_id: dialogId, is_new: true, conversation_id: "not-an-id" }, /^conversation_id/],
      ["POST", "/api/v1/conversations/set", { dialog_id: dialogId, is_new: "yes" }, /^is_new/],
      ["POST", "/api/v1/conversations/set", { dialog_id: dialogId, is_new: false }, /^conversation_id/],
      ["POST", "/api/v1/conversations/completion", { messages: [{ role: "user", content: "hi" }] }, /^conversation_id is required$/],
      ["POST", "/api/v1/conversations/completion", { conversation_id: id }, /^messages is required$/],
      ["POST", "/api/v1/conversations/completion", { conversation_id: id, messages: [{ role: "assistant", content: "hi" }] }, /^messages\[0\]\.role/],
      ["POST", "/api/v1/conversations/completion", { conversation_id: id, messages: [{ role: "user", content: "hi" }], temperature: 5 }, /^temperature/],
      ["POST", "/api/v1/conversations/completion", { conversation_id: id, messages: [{ role: "user", content: "hi" }], stream: "often" }, /^stream/],
      ["POST", "/api/v1/conversations/thumbup", { conversation_id: id, message_id: hex32(), thumbup: "up" }, /^thumbup/],
      ["POST", "/api/v1/conversations/delete_msg", { message_id: hex32() }, /^conversation_id is required$/]
    ]
    for (const [method, path, json, message] of cases) {
      const reply = await server.request(method, path, { token: owner.apiKey, json })
      expect([path, reply.status, reply.body.code]).toEqual([path, 400, 101])
      expect(reply.body.message).toMatch(message)
    }
    const noId = await server.request("GET", "/api/v1/conversations/get", { token: owner.apiKey })
    expect([noId.status, noId.body.message]).toEqual([400, "conversation_id is required"])
    const unknown = await read(owner.apiKey, hex32())
    expect([unknown.status, unknown.body.code]).toEqual([404, 102])
  })

  it("401 without credentials; another tenant's dialog and conversation are 404 and stay unchanged", async () => {
    const paths = ["set", "completion", "delete_msg", "thumbup"].map((p) => `/api/v1/conversations/${p}`)
    for (const path of paths) {
      const none = await server.request("POST", path, { json: {} })
      expect([path, none.status, none.body.code]).toEqual([path, 401, 401])
    }
    expect((await server.request("GET", "/api/v1/conversations/get", { query: { conversation_id: hex32() } })).status).toBe(401)

    const dialogId = await newDialog(owner)
    const id = await newConversation(owner.apiKey, dialogId, "private")
    const answerId = (await server.request("POST", "/api/v1/conversations/completion", {
      token: owner.apiKey,
      json: { conversation_id: id, messages: [{ role: "user", content: "mine" }], stream: false }
    })).body.data.id
    const before = (await read(owner.apiKey, id)).body.data

    const token = stranger.apiKey
    const attempts = [
      await server.request("POST", "/api/v1/conversations/set", { token, json: { dialog_id: dialogId, is_new: true } }),
      await server.request("POST", "/api/v1/conversations/set", { token, json: { dialog_id: dialogId, is_new: false, conversation_id: id, name: "stolen" } }),
      await read(token, id),
      await server.request("POST", "/api/v1/conversations/completion", { token, json: { conversation_id: id, messages: [{ role: "user", content: "x" }], stream: false } }),
      await server.request("POST", "/api/v1/conversations/delete_msg", { token, json: { conversation_id: id, message_id: answerId } }),
      await server.request("POST", "/api/v1/conversations/thumbup", { token, json: { conversation_id: id, message_id: answerId, thumbup: false, feedback: "bad" } })
    ]
    for (const attempt of attempts) expect([attempt.status, attempt.body.code]).toEqual([404, 102])
    const streamed = await completionStream(token, { conversation_id: id, messages: [{ role: "user", content: "x" }] })
    expect(streamed.status).toBe(404)
    // A stranger's own dialog can't take the owner's conversation either.
    const theirs = await newDialog(stranger)
    const moved = await server.request("POST", "/api/v1/conversations/set", { token, json: { dialog_id: theirs, is_new: false, conversation_id: id, name: "stolen" } })
    expect(moved.status).toBe(404)

    const after = await read(owner.apiKey, id)
    expect(after.body.data).toEqual(before)
  })

  it("a dialog-scoped key chats with its dialog only", async () => {
    const mine = await newDialog(owner, { name: "embedded" })
    const other = await newDialog(owner, { name: "other" })
    const otherConversation = await newConversation(owner.apiKey, other)
    const key = await server.dialogKey(owner, mine)

    const id = await newConversation(key, mine)
    const reply = await completionStream(key, { conversation_id: id, messages: [{ role: "user", content: "hello" }] })
    expect([reply.status, framesOf(reply.text).at(-1)]).toEqual([200, { code: 0, message: "", data: true }])
    const got = await read(key, id)
    expect([got.status, got.body.data.message.at(-1).content, got.body.data.avatar]).toEqual([200, "hello", "icon-data"])

    const elsewhere = await server.request("POST", "/api/v1/conversations/set", { token: key, json: { dialog_id: other, is_new: true } })
    expect([elsewhere.status, elsewhere.body.code]).toEqual([404, 102])
    expect((await read(key, otherConversation)).status).toBe(404)
    const chatElsewhere = await server.request("POST", "/api/v1/conversations/completion", {
      token: key,
      json: { conversation_id: otherConversation, messages: [{ role: "user", content: "x" }], stream: false }
    })
    expect(chatElsewhere.status).toBe(404)

    const dialogs = await server.request("POST", "/api/v1/dialogs/set", { token: key, json: { name: "new" } })
    expect([dialogs.status, dialogs.body.code]).toEqual([403, 109])
    const kbs = await server.request("POST", "/api/v1/kbs/list", { token: key, json: {} })
    expect([kbs.status, kbs.body.code]).toEqual([403, 109])
  })
})
