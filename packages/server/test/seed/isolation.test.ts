/**
 * The tenant-isolation matrix, generated from the seed API's own route list (`HttpApi.reflect`).
 *
 * Every endpoint must be in `cases` or in `namesNoRecord`, and a case must exercise every id its
 * route takes (`id`, `*_id`, `*_ids`, `token` in its path, query or body; `notRecords` lists the
 * id-like names that name no record of a tenant). So a new route, or a new id on a route, cannot
 * skip the matrix; a case or an exemption for a route that no longer exists fails too.
 *
 * A case sets up the owner's records through the HTTP API, calls its endpoint as a stranger (a user
 * of another tenant) with the owner's ids and expects the answer of an unknown id (404, code 102),
 * then reads back as the owner: nothing changed. A team member (a normal member of the owner's
 * tenant) reads the owner's `permission: "team"` knowledge bases but changes none (403), sees none
 * of the owner's private records (404), and may list but not manage the team (403).
 *
 * Credentials that may only chat (a key scoped to one dialog, a key's `beta`) are refused (403) by
 * every route that needs full access (`Authentication`), and a chat route (`ChatAuthentication`)
 * that takes an id keeps a scoped key within its dialog: its case has a `scoped` part, in which the
 * owner's other dialog and its conversations are unknown to the key.
 */
import { ApiTokens, decoding, Tenants } from "@ragkit/core"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Authentication, ChatAuthentication } from "../../src/api/Auth.js"
import { type Account, memoryEngine, type Reply, type SeedServer, startSeedServer } from "../support/seedServer.js"
import { seedRoutes } from "../support/seedRoutes.js"

let server: SeedServer
/** Owns the records under test. */
let owner: Account
/** A user of another tenant. */
let stranger: Account
/** A normal member of the owner's tenant (invited and accepted). */
let member: Account
/** A user the matrix tries to invite into the owner's tenant. */
let guest: Account
/** The owner with a key scoped to one dialog of its (`scopedDialog`): it may only chat, in that dialog. */
let scoped: Account
let scopedDialog: string
/** The owner with the `beta` of a key without a dialog: it may only chat. */
let beta: Account

const routes = seedRoutes()
const byKey = new Map(routes.map((r) => [r.key, r]))

interface Send {
  readonly json?: unknown
  readonly query?: Record<string, string | number | boolean>
  readonly body?: string | Uint8Array | FormData
  /** Values of the path's `:param` segments. */
  readonly params?: Record<string, string>
  /** Credentials other than the account's API key. */
  readonly token?: string
}

/** Calls the endpoint `key` (its method and path as the API declares them) as `who`. */
const send = (key: string, who: Account, options: Send = {}): Promise<Reply> => {
  const route = byKey.get(key)
  if (route === undefined) throw new Error(`no route ${key}`)
  const path = route.path.replace(/:(\w+)\??/g, (_, name: string) => {
    const value = options.params?.[name]
    if (value === undefined) throw new Error(`${key}: no value for :${name}`)
    return encodeURIComponent(value)
  })
  const { params: _, token, ...rest } = options
  return server.request(route.method.toUpperCase(), path, { token: token ?? who.apiKey, ...rest })
}

const describeReply = (reply: Reply) => `${reply.status} ${typeof reply.body === "string" ? reply.body.slice(0, 300) : JSON.stringify(reply.body)}`

/** The answer to an id the caller cannot see: 404, code 102 (the same as an unknown id). */
const expectNotFound = (reply: Reply) => expect([reply.status, reply.body?.code], describeReply(reply)).toEqual([404, 102])

/** The answer to a record the caller can see but may not change: 403. */
const expectForbidden = (reply: Reply) => expect([reply.status, reply.body?.code], describeReply(reply)).toEqual([403, 109])

const expectOk = (reply: Reply) => {
  expect([reply.status, reply.body?.code], describeReply(reply)).toEqual([200, 0])
  return reply.body.data
}

let counter = 0
const unique = (prefix: string) => `${prefix}-${++counter}`

/** Runs `attempt` between two reads of `read`, which must agree. */
const unchanged = async <A>(read: () => Promise<A>, attempt: () => Promise<void>) => {
  const before = await read()
  await attempt()
  expect(await read()).toEqual(before)
}

// ---------------------------------------------------------------------------------------------
// The owner's records and how the owner reads them back

type Permission = "me" | "team"
const permissions: ReadonlyArray<Permission> = ["me", "team"]

/** A knowledge base of the owner's (private unless `team`). */
const ownerKb = async (permission: Permission = "me"): Promise<string> =>
  expectOk(await send("kbs.create", owner, { json: { name: unique("kb"), permission } })).kb_id

const kbAsOwner = async (kbId: string) => expectOk(await send("kbs.detail", owner, { query: { kb_id: kbId } }))

/** The owner's knowledge bases, ids and names. */
const ownerKbs = async () =>
  (expectOk(await send("kbs.list", owner, { query: { page_size: 1000 }, json: {} })).kbs as Array<{ id: string; name: string }>)
    .map((kb) => `${kb.id} ${kb.name}`)
    .sort()

/** A multipart upload of one small text file. */
const uploadForm = (kbId: string, name: string) => {
  const form = new FormData()
  form.append("kb_id", kbId)
  form.append("file", new Blob([`the text of ${name}`], { type: "text/plain" }), name)
  return form
}

/** A document (a small text file, not parsed) in a knowledge base of the owner's. */
const ownerDoc = async (kbId: string): Promise<string> =>
  expectOk(await send("documents.upload", owner, { body: uploadForm(kbId, `${unique("doc")}.txt`) }))[0].id

/** The knowledge base and its documents, as the owner reads them. */
const kbWithDocs = (kbId: string) => async () => ({
  kb: await kbAsOwner(kbId),
  docs: expectOk(await send("documents.list", owner, { query: { kb_id: kbId, page_size: 1000 }, json: {} }))
})

/** An owner's knowledge base of the given permission with one document. */
const ownerKbAndDoc = async (permission: Permission) => {
  const kbId = await ownerKb(permission)
  return { kbId, docId: await ownerDoc(kbId) }
}

/** A dialog of the owner's over a knowledge base of its own. */
const ownerDialog = async (): Promise<string> =>
  expectOk(await send("dialogs.set", owner, { json: { name: unique("dialog"), kb_ids: [await ownerKb("team")] } })).id

const dialogAsOwner = async (dialogId: string) => expectOk(await send("dialogs.get", owner, { query: { dialog_id: dialogId } }))

/** The dialogs an account sees, ids and names. */
const dialogsOf = async (who: Account) =>
  (expectOk(await send("dialogs.list", who)) as Array<{ id: string; name: string }>).map((d) => `${d.id} ${d.name}`).sort()

/** A conversation of the owner's with one question and its answer; its assistant message's id. */
const ownerConversation = async (): Promise<{ dialogId: string; conversationId: string; messageId: string }> => {
  const dialogId = await ownerDialog()
  const conversation = expectOk(await send("conversations.set", owner, { json: { dialog_id: dialogId, is_new: true, name: unique("chat") } }))
  const answer = expectOk(
    await send("conversations.completion", owner, {
      json: { conversation_id: conversation.id, messages: [{ role: "user", content: "hello" }], stream: false }
    })
  )
  return { dialogId, conversationId: conversation.id, messageId: answer.id }
}

const conversationAsOwner = (conversationId: string) => async () =>
  expectOk(await send("conversations.get", owner, { query: { conversation_id: conversationId } }))

/** The owner's team as the owner lists it: user ids and roles. */
const ownerTeam = async () =>
  (expectOk(await send("tenants.members", owner, { params: { tenant_id: owner.caller.tenantId } })) as Array<{ user_id: string; role: string }>)
    .map((m) => `${m.user_id} ${m.role}`)
    .sort()

/** The teams an account is in, with its role. */
const teamsOf = async (who: Account) =>
  (expectOk(await send("tenants.teams", who)) as Array<{ tenant_id: string; role: string }>).map((t) => `${t.tenant_id} ${t.role}`).sort()

/** A new API key of the owner's: its id (what lists show and `token/<token>` takes), the key itself and its beta. */
const ownerToken = async () => {
  const created = expectOk(await send("system.newToken", owner))
  return { id: created.id as string, secret: created.token as string, beta: created.beta as string }
}

const ownerTokenIds = async () => (expectOk(await send("system.tokenList", owner)) as Array<{ id: string }>).map((t) => t.id).sort()

// ---------------------------------------------------------------------------------------------
// The matrix

interface IsolationCase {
  /** The id fields of the route this case uses with the owner's values. */
  readonly ids: ReadonlyArray<string>
  /** A stranger uses the owner's ids: refused as an unknown id, nothing changes. */
  readonly stranger: () => Promise<void>
  /** A team member uses the owner's ids: reads what the team shares, changes none of it (403). */
  readonly member?: () => Promise<void>
  /** The owner's key scoped to another dialog uses the ids (required for chat routes): refused as unknown. */
  readonly scoped?: () => Promise<void>
}

/** Id-like fields that name no record of a tenant, with what they name. */
const notRecords: Record<string, string> = {
  parser_id: "a chunk method's name",
  pipeline_id: "an ingestion pipeline: not supported, refused when sent",
  embedding_model_id: "a model name, resolved among the caller's own providers",
  llm_id: "a model name, resolved among the caller's own providers",
  rerank_id: "a model name, resolved among the caller's own providers"
}

/** Endpoints that name no record, with why they need no case. */
const namesNoRecord: Record<string, string> = {
  "system.ping": "probe without credentials",
  "system.healthz": "probe without credentials",
  "system.version": "the server's version",
  "system.status": "the deployment's health",
  "system.newToken": "makes a key of the caller's own tenant",
  "system.tokenList": "the caller's own tenant's keys",
  "user.login": "e-mail and password",
  "user.register": "e-mail and password",
  "user.logout": "the caller's own session",
  "user.info": "the caller's own user",
  "user.setting": "the caller's own user",
  "tenants.teams": "the caller's own memberships",
  "dialogs.list": "the caller's own tenant's dialogs"
}

/** A document change `attempt(who, kbId, docId)`: refused as unknown, the knowledge base and its documents as they were. */
const docChange = (attempt: (who: Account, ids: { kbId: string; docId: string }) => Promise<Reply>): Pick<IsolationCase, "stranger" | "member"> => ({
  stranger: async () => {
    for (const permission of permissions) {
      const ids = await ownerKbAndDoc(permission)
      await unchanged(kbWithDocs(ids.kbId), async () => expectNotFound(await attempt(stranger, ids)))
    }
  },
  // Core lets team members change documents of a team knowledge base (as RAGFlow): only the private one is tried.
  member: async () => {
    const ids = await ownerKbAndDoc("me")
    await unchanged(kbWithDocs(ids.kbId), async () => expectNotFound(await attempt(member, ids)))
  }
})

/**
 * A use of the owner's conversation by `who`: refused as unknown, the conversation as it was. The
 * owner's conversations are its tenant's own: the team member and a key scoped to another dialog
 * see none of them either.
 */
const conversationUse = (
  attempt: (who: Account, ids: { conversationId: string; messageId: string }) => Promise<Reply>
): Pick<IsolationCase, "stranger" | "member" | "scoped"> => {
  const refused = (who: () => Account) => async () => {
    const ids = await ownerConversation()
    await unchanged(conversationAsOwner(ids.conversationId), async () => expectNotFound(await attempt(who(), ids)))
  }
  return { stranger: refused(() => stranger), member: refused(() => member), scoped: refused(() => scoped) }
}

const cases: Record<string, IsolationCase> = {
  // -- knowledge bases
  "kbs.create": {
    // `tenant_id`: a knowledge base is made in the caller's own tenant only.
    ids: ["tenant_id"],
    stranger: async () => {
      await unchanged(ownerKbs, async () => {
        expectNotFound(await send("kbs.create", stranger, { json: { name: unique("planted"), tenant_id: owner.caller.tenantId } }))
        expectNotFound(await send("kbs.create", stranger, { json: { name: unique("planted"), tenant_id: "f".repeat(32) } }))
      })
    },
    member: async () => {
      await unchanged(ownerKbs, async () => expectForbidden(await send("kbs.create", member, { json: { name: unique("planted"), tenant_id: owner.caller.tenantId } })))
    }
  },
  "kbs.detail": {
    ids: ["kb_id"],
    stranger: async () => {
      for (const permission of permissions) expectNotFound(await send("kbs.detail", stranger, { query: { kb_id: await ownerKb(permission) } }))
    },
    member: async () => {
      const team = await ownerKb("team")
      expect(expectOk(await send("kbs.detail", member, { query: { kb_id: team } }))).toMatchObject({ id: team, tenant_id: owner.caller.tenantId })
      expectNotFound(await send("kbs.detail", member, { query: { kb_id: await ownerKb("me") } }))
    }
  },
  "kbs.update": {
    ids: ["kb_id"],
    stranger: async () => {
      for (const permission of permissions) {
        const kbId = await ownerKb(permission)
        await unchanged(() => kbAsOwner(kbId), async () =>
          expectNotFound(await send("kbs.update", stranger, { json: { kb_id: kbId, name: unique("taken"), permission: "me", description: "x" } })))
      }
    },
    member: async () => {
      const team = await ownerKb("team")
      await unchanged(() => kbAsOwner(team), async () => expectForbidden(await send("kbs.update", member, { json: { kb_id: team, name: unique("taken"), permission: "me" } })))
      const own = await ownerKb("me")
      await unchanged(() => kbAsOwner(own), async () => expectNotFound(await send("kbs.update", member, { json: { kb_id: own, name: unique("taken") } })))
    }
  },
  "kbs.rm": {
    ids: ["kb_id"],
    stranger: async () => {
      for (const permission of permissions) {
        const ids = await ownerKbAndDoc(permission)
        await unchanged(kbWithDocs(ids.kbId), async () => expectNotFound(await send("kbs.rm", stranger, { json: { kb_id: ids.kbId } })))
      }
    },
    member: async () => {
      const team = await ownerKbAndDoc("team")
      await unchanged(kbWithDocs(team.kbId), async () => expectForbidden(await send("kbs.rm", member, { json: { kb_id: team.kbId } })))
      const own = await ownerKbAndDoc("me")
      await unchanged(kbWithDocs(own.kbId), async () => expectNotFound(await send("kbs.rm", member, { json: { kb_id: own.kbId } })))
    }
  },
  "kbs.list": {
    // `owner_ids` filters by tenant: another tenant's knowledge bases show only when shared with the caller's team.
    ids: ["owner_ids"],
    stranger: async () => {
      await ownerKb("team")
      await ownerKb("me")
      const listed = expectOk(await send("kbs.list", stranger, { query: { page_size: 1000 }, json: { owner_ids: [owner.caller.tenantId] } }))
      expect([listed.kbs, listed.total]).toEqual([[], 0])
    },
    member: async () => {
      const team = await ownerKb("team")
      const own = await ownerKb("me")
      const listed = expectOk(await send("kbs.list", member, { query: { page_size: 1000 }, json: { owner_ids: [owner.caller.tenantId] } }))
      const ids = listed.kbs.map((kb: { id: string }) => kb.id)
      expect(ids).toContain(team)
      expect(ids).not.toContain(own)
      expect(listed.kbs.every((kb: { permission: string }) => kb.permission === "team")).toBe(true)
    }
  },

  // -- documents
  "documents.upload": {
    ids: ["kb_id"],
    ...docChange(async (who, { kbId }) => {
      // `kb_id` in the query string, then as a form field.
      const form = uploadForm("", `${unique("planted")}.txt`)
      form.delete("kb_id")
      expectNotFound(await send("documents.upload", who, { query: { kb_id: kbId }, body: form }))
      return send("documents.upload", who, { body: uploadForm(kbId, `${unique("planted")}.txt`) })
    })
  },
  "documents.create": { ids: ["kb_id"], ...docChange((who, { kbId }) => send("documents.create", who, { json: { kb_id: kbId, name: `${unique("planted")}.txt` } })) },
  "documents.list": {
    ids: ["kb_id"],
    stranger: async () => {
      for (const permission of permissions) {
        const { kbId } = await ownerKbAndDoc(permission)
        expectNotFound(await send("documents.list", stranger, { query: { kb_id: kbId }, json: {} }))
      }
    },
    member: async () => {
      const team = await ownerKbAndDoc("team")
      const listed = expectOk(await send("documents.list", member, { query: { kb_id: team.kbId }, json: {} }))
      expect(listed.docs.map((d: { id: string }) => d.id)).toEqual([team.docId])
      const own = await ownerKbAndDoc("me")
      expectNotFound(await send("documents.list", member, { query: { kb_id: own.kbId }, json: {} }))
    }
  },
  "documents.change_status": { ids: ["doc_ids"], ...docChange((who, { docId }) => send("documents.change_status", who, { json: { doc_ids: [docId], status: "0" } })) },
  "documents.rm": { ids: ["doc_id"], ...docChange((who, { docId }) => send("documents.rm", who, { json: { doc_id: docId } })) },
  "documents.run": { ids: ["doc_ids"], ...docChange((who, { docId }) => send("documents.run", who, { json: { doc_ids: [docId], run: "1" } })) },
  "documents.rename": { ids: ["doc_id"], ...docChange((who, { docId }) => send("documents.rename", who, { json: { doc_id: docId, name: `${unique("taken")}.txt` } })) },
  "documents.change_parser": {
    ids: ["doc_id"],
    ...docChange((who, { docId }) => send("documents.change_parser", who, { json: { doc_id: docId, parser_id: "one" } }))
  },

  // -- dialogs (a tenant's own: a team member sees none of the owner's)
  "dialogs.set": {
    ids: ["dialog_id", "kb_ids"],
    stranger: async () => {
      const dialogId = await ownerDialog()
      await unchanged(() => dialogAsOwner(dialogId), async () =>
        expectNotFound(await send("dialogs.set", stranger, { json: { dialog_id: dialogId, name: unique("taken"), kb_ids: [] } })))
      // A dialog of one's own over the owner's knowledge bases, made or changed: refused, none made or changed.
      const own = expectOk(await send("dialogs.set", stranger, { json: { name: unique("dialog"), kb_ids: [] } })).id
      for (const permission of permissions) {
        const kbId = await ownerKb(permission)
        await unchanged(() => dialogsOf(stranger), async () =>
          expectNotFound(await send("dialogs.set", stranger, { json: { name: unique("planted"), kb_ids: [kbId] } })))
        await unchanged(async () => expectOk(await send("dialogs.get", stranger, { query: { dialog_id: own } })), async () =>
          expectNotFound(await send("dialogs.set", stranger, { json: { dialog_id: own, kb_ids: [kbId] } })))
      }
    },
    member: async () => {
      const dialogId = await ownerDialog()
      await unchanged(() => dialogAsOwner(dialogId), async () =>
        expectNotFound(await send("dialogs.set", member, { json: { dialog_id: dialogId, name: unique("taken") } })))
      const own = await ownerKb("me")
      await unchanged(() => dialogsOf(member), async () => expectNotFound(await send("dialogs.set", member, { json: { name: unique("planted"), kb_ids: [own] } })))
    }
  },
  "dialogs.get": {
    ids: ["dialog_id"],
    stranger: async () => expectNotFound(await send("dialogs.get", stranger, { query: { dialog_id: await ownerDialog() } })),
    member: async () => expectNotFound(await send("dialogs.get", member, { query: { dialog_id: await ownerDialog() } })),
    scoped: async () => {
      const other = await ownerDialog()
      expectNotFound(await send("dialogs.get", scoped, { query: { dialog_id: other } }))
      expect(expectOk(await send("dialogs.get", scoped, { query: { dialog_id: scopedDialog } })).id).toBe(scopedDialog)
      expect((expectOk(await send("dialogs.list", scoped)) as Array<{ id: string }>).map((d) => d.id)).toEqual([scopedDialog])
    }
  },
  "dialogs.rm": {
    ids: ["dialog_ids"],
    stranger: async () => {
      const dialogId = await ownerDialog()
      await unchanged(() => dialogsOf(owner), async () => expectNotFound(await send("dialogs.rm", stranger, { json: { dialog_ids: [dialogId] } })))
    },
    member: async () => {
      const dialogId = await ownerDialog()
      await unchanged(() => dialogsOf(owner), async () => expectNotFound(await send("dialogs.rm", member, { json: { dialog_ids: [dialogId] } })))
    }
  },

  // -- conversations (a tenant's own)
  "conversations.set": {
    ids: ["conversation_id", "dialog_id"],
    stranger: async () => {
      const { dialogId, conversationId } = await ownerConversation()
      await unchanged(conversationAsOwner(conversationId), async () => {
        // Rename the owner's conversation.
        expectNotFound(await send("conversations.set", stranger, { json: { conversation_id: conversationId, dialog_id: dialogId, name: "taken" } }))
        // Start a conversation in the owner's dialog.
        expectNotFound(await send("conversations.set", stranger, { json: { dialog_id: dialogId, is_new: true, name: "planted" } }))
        // Take the owner's conversation id for a conversation of one's own dialog: refused (the id is taken).
        const own = expectOk(await send("dialogs.set", stranger, { json: { name: unique("dialog"), kb_ids: [] } }))
        const hijack = await send("conversations.set", stranger, { json: { dialog_id: own.id, conversation_id: conversationId, is_new: true, name: "planted" } })
        expect(hijack.status, describeReply(hijack)).not.toBe(200)
      })
    },
    member: async () => {
      const { dialogId, conversationId } = await ownerConversation()
      await unchanged(conversationAsOwner(conversationId), async () => {
        expectNotFound(await send("conversations.set", member, { json: { conversation_id: conversationId, dialog_id: dialogId, name: "taken" } }))
        expectNotFound(await send("conversations.set", member, { json: { dialog_id: dialogId, is_new: true, name: "planted" } }))
      })
    },
    scoped: async () => {
      const { dialogId, conversationId } = await ownerConversation()
      await unchanged(conversationAsOwner(conversationId), async () => {
        expectNotFound(await send("conversations.set", scoped, { json: { conversation_id: conversationId, dialog_id: dialogId, name: "taken" } }))
        expectNotFound(await send("conversations.set", scoped, { json: { dialog_id: dialogId, is_new: true, name: "planted" } }))
      })
    }
  },
  "conversations.get": { ids: ["conversation_id"], ...conversationUse((who, { conversationId }) => send("conversations.get", who, { query: { conversation_id: conversationId } })) },
  "conversations.completion": {
    ids: ["conversation_id"],
    ...conversationUse(async (who, { conversationId }) => {
      const ask = (stream: boolean) =>
        send("conversations.completion", who, { json: { conversation_id: conversationId, messages: [{ role: "user", content: "planted" }], stream } })
      expectNotFound(await ask(true))
      return ask(false)
    })
  },
  // RAGFlow's two paths of the OpenAI-compatible route, one handler.
  ...Object.fromEntries(["openai.chatCompletions", "openai.openaiChatCompletions"].map((key) => [key, {
    ids: ["chat_id"],
    // The owner's dialog through the OpenAI-compatible path: unknown, the dialog as it was (streamed or not).
    stranger: async () => {
      const dialogId = await ownerDialog()
      await unchanged(() => dialogAsOwner(dialogId), async () => {
        for (const stream of [false, true]) expectNotFound(await send(key, stranger, { params: { chat_id: dialogId }, json: { model: "x", messages: [{ role: "user", content: "planted" }], stream } }))
      })
    },
    member: async () => {
      const dialogId = await ownerDialog()
      await unchanged(() => dialogAsOwner(dialogId), async () => {
        expectNotFound(await send(key, member, { params: { chat_id: dialogId }, json: { model: "x", messages: [{ role: "user", content: "planted" }] } }))
      })
    },
    scoped: async () => {
      const dialogId = await ownerDialog()
      await unchanged(() => dialogAsOwner(dialogId), async () => {
        for (const stream of [false, true]) expectNotFound(await send(key, scoped, { params: { chat_id: dialogId }, json: { model: "x", messages: [{ role: "user", content: "planted" }], stream } }))
      })
      // Its own dialog answers.
      const reply = await send(key, scoped, { params: { chat_id: scopedDialog }, json: { model: "x", messages: [{ role: "user", content: "hello" }] } })
      expect(reply.status, describeReply(reply)).toBe(200)
      expect(reply.body.object).toBe("chat.completion")
    }
  }])),
  "conversations.delete_msg": {
    ids: ["conversation_id", "message_id"],
    ...conversationUse((who, { conversationId, messageId }) => send("conversations.delete_msg", who, { json: { conversation_id: conversationId, message_id: messageId } }))
  },
  "conversations.thumbup": {
    ids: ["conversation_id", "message_id"],
    ...conversationUse((who, { conversationId, messageId }) =>
      send("conversations.thumbup", who, { json: { conversation_id: conversationId, message_id: messageId, thumbup: false, feedback: "planted" } }))
  },

  // -- tenants (teams): members list the team, only the owner manages it
  "tenants.members": {
    ids: ["tenant_id"],
    stranger: async () => expectNotFound(await send("tenants.members", stranger, { params: { tenant_id: owner.caller.tenantId } })),
    member: async () => {
      const listed = expectOk(await send("tenants.members", member, { params: { tenant_id: owner.caller.tenantId } })) as Array<{ user_id: string }>
      expect(listed.map((m) => m.user_id).sort()).toEqual([owner.caller.userId, member.caller.userId].sort())
    }
  },
  "tenants.invite": {
    ids: ["tenant_id"],
    stranger: async () => {
      await unchanged(ownerTeam, async () =>
        expectNotFound(await send("tenants.invite", stranger, { params: { tenant_id: owner.caller.tenantId }, json: { email: guest.email } })))
      expect(await teamsOf(guest)).toEqual([`${guest.caller.tenantId} owner`])
    },
    member: async () => {
      await unchanged(ownerTeam, async () =>
        expectForbidden(await send("tenants.invite", member, { params: { tenant_id: owner.caller.tenantId }, json: { email: guest.email } })))
      expect(await teamsOf(guest)).toEqual([`${guest.caller.tenantId} owner`])
    }
  },
  "tenants.remove": {
    ids: ["tenant_id", "user_id"],
    stranger: async () => {
      await unchanged(ownerTeam, async () => {
        for (const user of [member, owner, stranger]) {
          expectNotFound(await send("tenants.remove", stranger, { params: { tenant_id: owner.caller.tenantId, user_id: user.caller.userId } }))
        }
      })
    },
    member: async () => {
      await unchanged(ownerTeam, async () =>
        expectForbidden(await send("tenants.remove", member, { params: { tenant_id: owner.caller.tenantId, user_id: owner.caller.userId } })))
    }
  },
  "tenants.agree": {
    ids: ["tenant_id"],
    stranger: async () => {
      await unchanged(ownerTeam, async () => expectNotFound(await send("tenants.agree", stranger, { params: { tenant_id: owner.caller.tenantId } })))
      expect(await teamsOf(stranger)).toEqual([`${stranger.caller.tenantId} owner`])
    }
  },

  // -- API keys: a tenant's own (a team member has its own tenant's)
  "system.removeToken": {
    ids: ["token"],
    stranger: async () => {
      const token = await ownerToken()
      await unchanged(ownerTokenIds, async () => {
        for (const named of [token.id, token.secret, token.beta]) expectNotFound(await send("system.removeToken", stranger, { params: { token: named } }))
      })
      expectOk(await send("system.version", owner, { token: token.secret }))
    },
    member: async () => {
      const token = await ownerToken()
      await unchanged(ownerTokenIds, async () => {
        for (const named of [token.id, token.secret, token.beta]) expectNotFound(await send("system.removeToken", member, { params: { token: named } }))
      })
      expectOk(await send("system.version", owner, { token: token.secret }))
    }
  }
}

beforeAll(async () => {
  server = await startSeedServer(memoryEngine({ users: { passwordCost: 2 ** 10 } }))
  ;[owner, stranger, member, guest] = await Promise.all(
    ["iso-owner", "iso-stranger", "iso-member", "iso-guest"].map((name) => server.account(`${name}@example.com`))
  )
  await server.runtime.runPromise(
    Effect.gen(function* () {
      const tenants = decoding(yield* Tenants.Tenants, Tenants.Operations)
      yield* tenants.invite(owner.caller, { tenant_id: owner.caller.tenantId, email: member.email })
      yield* tenants.acceptInvite(member.caller, { tenant_id: owner.caller.tenantId })
    })
  )
  scopedDialog = await ownerDialog()
  const keys = await server.runtime.runPromise(
    Effect.gen(function* () {
      const tokens = decoding(yield* ApiTokens.ApiTokens, ApiTokens.Operations)
      return [yield* tokens.create(owner.caller, { dialog_id: scopedDialog }), yield* tokens.create(owner.caller, {})]
    })
  )
  scoped = { ...owner, apiKey: keys[0]!.secret }
  beta = { ...owner, apiKey: keys[1]!.token.beta }
}, 60_000)
afterAll(() => server?.close())

describe("tenant isolation, for every route of the seed API", () => {
  it("every route that takes an id has a case using each of its ids; every case and exemption names a route", () => {
    const problems: Array<string> = []
    for (const route of routes) {
      const c = cases[route.key]
      const recordIds = route.idFields.filter((f) => !(f in notRecords))
      const where = `${route.key} (${route.method} ${route.path})`
      if (route.key in namesNoRecord) {
        if (recordIds.length > 0) problems.push(`${where} takes ${recordIds.join(", ")}: it needs a case, not an exemption`)
      } else if (c === undefined) {
        problems.push(recordIds.length > 0 ? `${where} takes ${recordIds.join(", ")} but has no isolation case` : `${where} is neither in the isolation cases nor in namesNoRecord`)
      } else {
        const missing = recordIds.filter((f) => !c.ids.includes(f))
        if (missing.length > 0) problems.push(`${where}: its case does not use ${missing.join(", ")}`)
        if (recordIds.length > 0 && route.middleware.includes(ChatAuthentication.key) && c.scoped === undefined) {
          problems.push(`${where} takes chat-only credentials: its case needs a scoped part`)
        }
        const stale = c.ids.filter((f) => !route.idFields.includes(f))
        if (stale.length > 0) problems.push(`${where}: its case names ${stale.join(", ")}, which the route does not take`)
      }
    }
    for (const key of [...Object.keys(cases), ...Object.keys(namesNoRecord)]) {
      if (!byKey.has(key)) problems.push(`${key} is in the matrix but is no route of the seed API`)
    }
    expect(problems).toEqual([])
  })

  it("chat-only credentials (a dialog-scoped key, a beta) are refused by every route that needs full access", async () => {
    const full = routes.filter((r) => r.middleware.includes(Authentication.key))
    expect(full.length).toBeGreaterThan(0)
    const answers: Array<string> = []
    for (const route of full) {
      for (const who of [scoped, beta]) {
        const params = Object.fromEntries([...route.path.matchAll(/:(\w+)/g)].map((m) => [m[1]!, "0".repeat(32)]))
        const reply = await send(route.key, who, route.method === "GET" ? { params } : { params, json: {} })
        answers.push(`${route.key} ${who === scoped ? "scoped" : "beta"}: ${reply.status} ${reply.body?.code}`)
      }
    }
    expect(answers).toEqual(answers.map((a) => a.replace(/: .*$/, ": 403 109")))
  })

  for (const [key, c] of Object.entries(cases)) {
    const route = byKey.get(key)
    const label = route === undefined ? key : `${key} (${route.method} ${route.path}: ${c.ids.join(", ")})`
    it.skipIf(route === undefined)(`${label}: a stranger with the owner's ids is refused, nothing changes`, c.stranger)
    if (c.member !== undefined) it.skipIf(route === undefined)(`${label}: a team member reads what the team shares, changes none of it`, c.member)
    if (c.scoped !== undefined) it.skipIf(route === undefined)(`${label}: a key scoped to another dialog of the owner's is refused, nothing changes`, c.scoped)
  }
})
