/**
 * Record builders for tests: a valid record of each kind with every field filled, overridable.
 */
import type { Stamped } from "../domain/Time.js"
import { formatDate } from "../domain/Time.js"
import { randomHex32 } from "../domain/Ids.js"
import type { DocumentId, KnowledgeBaseId, SessionId, TenantId, UserId } from "../domain/Ids.js"
import { ApiToken, Conversation, Dialog, Document, KnowledgeBase, Session, Tenant, User } from "../domain/Records.js"
import { notStarted } from "../services/internal/DocumentRuns.js"
import type { DialogId } from "../domain/Ids.js"

export const stamps = (ms: number = Date.now()): Stamped => ({
  create_time: ms,
  create_date: formatDate(ms),
  update_time: ms,
  update_date: formatDate(ms)
})

export const anId = <A extends string>(): A => randomHex32() as A

export const aTenant = (over: Partial<Tenant> = {}): Tenant =>
  new Tenant({
    id: anId<TenantId>(),
    name: "tenant",
    llm_id: "",
    embd_id: "",
    rerank_id: "",
    asr_id: "",
    img2txt_id: "",
    tts_id: "",
    parser_ids: "",
    credit: 512,
    status: "1",
    ...stamps(),
    ...over
  })

export const aUser = (over: Partial<User> = {}): User =>
  new User({
    id: anId<UserId>(),
    email: `${randomHex32().slice(0, 8)}@example.com`,
    nickname: "user",
    avatar: "",
    language: "English",
    color_schema: "Bright",
    timezone: "UTC+8\tAsia/Shanghai",
    password_hash: "",
    last_login_time: null,
    login_channel: "password",
    is_superuser: false,
    is_active: "1",
    status: "1",
    ...stamps(),
    ...over
  })

export const aSession = (over: Partial<Session> = {}): Session =>
  new Session({
    id: anId<SessionId>(),
    user_id: anId<UserId>(),
    token_hash: randomHex32() + randomHex32(),
    expire_time: Date.now() + 7 * 24 * 3600_000,
    last_used_time: null,
    ...stamps(),
    ...over
  })

export const anApiToken = (over: Partial<ApiToken> = {}): ApiToken =>
  new ApiToken({
    id: anId(),
    tenant_id: anId<TenantId>(),
    created_by: anId<UserId>(),
    token_hash: randomHex32(),
    token_prefix: "ragkit-x…",
    dialog_id: null,
    source: null,
    beta: null,
    last_used_time: null,
    ...stamps(),
    ...over
  })

export const aKnowledgeBase = (over: Partial<KnowledgeBase> = {}): KnowledgeBase =>
  new KnowledgeBase({
    id: anId<KnowledgeBaseId>(),
    tenant_id: anId<TenantId>(),
    name: `kb-${randomHex32().slice(0, 8)}`,
    description: "",
    language: "English",
    avatar: "",
    embedding_model: "hash-64@Test",
    embedder: null,
    permission: "me",
    parser_id: "naive",
    parser_config: { chunk_token_num: 512 },
    pipeline_id: null,
    created_by: anId<UserId>(),
    document_count: 0,
    chunk_count: 0,
    token_num: 0,
    size: 0,
    similarity_threshold: 0.2,
    vector_similarity_weight: 0.3,
    status: "1",
    ...stamps(),
    ...over
  })

export const aDocument = (over: Partial<Document> = {}): Document =>
  new Document({
    id: anId<DocumentId>(),
    kb_id: anId<KnowledgeBaseId>(),
    tenant_id: anId<TenantId>(),
    parser_id: "naive",
    parser_config: {},
    pipeline_id: null,
    source_type: "local",
    type: "doc",
    created_by: anId<UserId>(),
    name: `doc-${randomHex32().slice(0, 8)}.txt`,
    location: "",
    size: 0,
    thumbnail: "",
    suffix: "txt",
    ...notStarted,
    meta_fields: {},
    status: "1",
    ...stamps(),
    ...over
  })

export const aDialog = (over: Partial<Dialog> = {}): Dialog =>
  new Dialog({
    id: anId<DialogId>(),
    tenant_id: anId<TenantId>(),
    name: "assistant",
    description: "",
    icon: "",
    language: "English",
    llm_id: "",
    llm_setting: {},
    prompt_type: "simple",
    prompt_config: {},
    meta_data_filter: {},
    kb_ids: [],
    top_n: 6,
    top_k: 1024,
    rerank_id: "",
    similarity_threshold: 0.1,
    vector_similarity_weight: 0.3,
    do_refer: "1",
    status: "1",
    ...stamps(),
    ...over
  })

export const aConversation = (over: Partial<Conversation> = {}): Conversation =>
  new Conversation({
    id: anId(),
    dialog_id: anId<DialogId>(),
    tenant_id: anId<TenantId>(),
    user_id: "",
    name: "New conversation",
    message: [],
    ...stamps(),
    ...over
  })
