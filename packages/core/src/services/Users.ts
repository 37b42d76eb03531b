/**
 * Users: sign-up, password login and sessions, profile changes.
 *
 * As in RAGFlow, signing up also creates the user's own tenant (its id is the user's id) with the
 * user as owner, and a user has one session at a time: logging in again replaces the token.
 * Passwords are kept as scrypt hashes, session tokens as their SHA-256.
 */
import { Context, Effect, Layer, Option } from "effect"
import { Caller } from "../domain/Caller.js"
import {
  AlreadyExists,
  invalid,
  type InvalidInput,
  type NotFound,
  notFound,
  type StoreError,
  Unauthenticated
} from "../domain/Errors.js"
import { isHex32, randomHex32, type TenantId, type TenantMemberId, type UserId } from "../domain/Ids.js"
import { Tenant, TenantMember, User } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import { RecordStore } from "../ports/RecordStore.js"
import { decoyPasswordHash, hashPassword, randomToken, sha256Hex, verifyPassword } from "./internal/secrets.js"
import * as validate from "./internal/validate.js"

export interface RegisterInput {
  readonly email: string
  readonly nickname: string
  readonly password: string
}

export interface UpdateUserInput {
  readonly nickname?: string | undefined
  readonly avatar?: string | undefined
  readonly language?: string | undefined
  readonly timezone?: string | undefined
  readonly color_schema?: string | undefined
  readonly password?: { readonly current: string; readonly next: string } | undefined
}

export interface LoginResult {
  readonly user: User
  /** The session token; only its SHA-256 is stored. */
  readonly token: string
}

/** A user as others may see it: no password hash, no session hash. */
export type PublicUser = Omit<User, "password_hash" | "access_token_hash">

export const publicUser = (user: User): PublicUser => {
  const { password_hash: _password, access_token_hash: _session, ...rest } = user
  return rest
}

export interface UsersService {
  /** Creates the user, its own tenant and its owner membership, all or nothing. */
  readonly register: (input: RegisterInput) => Effect.Effect<User, InvalidInput | AlreadyExists | StoreError>
  /** Checks the password and opens a new session, ending the previous one. */
  readonly login: (email: string, password: string) => Effect.Effect<LoginResult, Unauthenticated | StoreError>
  /** The caller behind a session token. */
  readonly authenticate: (token: string) => Effect.Effect<Caller, Unauthenticated | StoreError>
  /** Ends the user's session. */
  readonly logout: (userId: UserId) => Effect.Effect<void, NotFound | StoreError>
  readonly get: (userId: UserId) => Effect.Effect<User, NotFound | StoreError>
  /** Changes the caller's own profile; a new password needs the current one. */
  readonly update: (caller: Caller, input: UpdateUserInput) => Effect.Effect<User, InvalidInput | NotFound | StoreError>
}

export class Users extends Context.Tag("@ragkit/core/Users")<Users, UsersService>() {}

const PASSWORD_MIN = 8
const PASSWORD_MAX = 1024
const NICKNAME_MAX = 100

/** RAGFlow's default chunk methods offered to a new tenant. */
const DEFAULT_PARSER_IDS =
  "naive:General,qa:Q&A,resume:Resume,manual:Manual,table:Table,paper:Paper,book:Book,laws:Laws," +
  "presentation:Presentation,picture:Picture,one:One,audio:Audio,email:Email,tag:Tag"

const LOGIN_FAILED = "Email and password do not match"
const DISABLED = "This account has been disabled"
const BAD_SESSION = "Invalid or expired session"

const password = (field: string, value: unknown): Effect.Effect<string, InvalidInput> => {
  if (typeof value !== "string") return Effect.fail(invalid(field, `${field} must be a string`))
  const length = [...value].length
  if (length < PASSWORD_MIN) return Effect.fail(invalid(field, `${field} must be at least ${PASSWORD_MIN} characters`))
  if (length > PASSWORD_MAX) return Effect.fail(invalid(field, `${field} is longer than ${PASSWORD_MAX} characters`))
  return Effect.succeed(value)
}

const isActive = (user: User): boolean => user.is_active === "1" && user.status === "1"

/** The default models a new user's tenant starts with (`name@provider`, or empty). */
export interface TenantDefaults {
  readonly llm_id?: string
  readonly embd_id?: string
  readonly rerank_id?: string
}

export const make = (defaults: TenantDefaults = {}) => Effect.gen(function* () {
  const store = yield* RecordStore

  const register = Effect.fn("Users.register")(function* (input: RegisterInput) {
    const email = yield* validate.email("email", input.email)
    const nickname = yield* validate.name("nickname", input.nickname, NICKNAME_MAX)
    const secret = yield* password("password", input.password)
    // Hash before the transaction: scrypt takes tens of milliseconds and must not hold locks.
    const password_hash = yield* hashPassword(secret)
    const stamps = yield* newStamps
    const userId = randomHex32() as UserId
    const user = new User({
      id: userId,
      email,
      nickname,
      avatar: "",
      language: "English",
      color_schema: "Bright",
      timezone: "UTC+8\tAsia/Shanghai",
      password_hash,
      access_token_hash: null,
      last_login_time: null,
      login_channel: "password",
      is_superuser: false,
      is_active: "1",
      status: "1",
      ...stamps
    })
    const tenant = new Tenant({
      // RAGFlow: a user's own tenant has the user's id.
      id: userId as string as TenantId,
      name: `${nickname}'s Kingdom`,
      llm_id: defaults.llm_id ?? "",
      embd_id: defaults.embd_id ?? "",
      rerank_id: defaults.rerank_id ?? "",
      asr_id: "",
      img2txt_id: "",
      tts_id: "",
      parser_ids: DEFAULT_PARSER_IDS,
      credit: 512,
      status: "1",
      ...stamps
    })
    const owner = new TenantMember({
      id: randomHex32() as TenantMemberId,
      tenant_id: tenant.id,
      user_id: userId,
      invited_by: userId,
      role: "owner",
      status: "1",
      ...stamps
    })
    return yield* store.transaction(
      Effect.gen(function* () {
        yield* store.users.insert(user).pipe(
          Effect.catchIf(
            (e) => e.reason === "Conflict",
            () =>
              Effect.fail(
                new AlreadyExists({
                  entity: "User",
                  field: "email",
                  value: email,
                  message: `a user with e-mail ${email} already exists`
                })
              )
          )
        )
        yield* store.tenants.insert(tenant)
        yield* store.members.insert(owner)
        return user
      })
    )
  })

  const login = Effect.fn("Users.login")(function* (email: string, secret: string) {
    const failed = new Unauthenticated({ message: LOGIN_FAILED })
    if (typeof email !== "string" || typeof secret !== "string" || [...secret].length > PASSWORD_MAX) {
      return yield* Effect.fail(failed)
    }
    const found = yield* store.users.findFirst({ email: email.trim().toLowerCase() })
    // An unknown address costs one scrypt too, so timing does not tell which addresses exist.
    const matches = yield* verifyPassword(secret, Option.isSome(found) ? found.value.password_hash : decoyPasswordHash)
    if (Option.isNone(found) || !matches) return yield* Effect.fail(failed)
    if (!isActive(found.value)) return yield* Effect.fail(new Unauthenticated({ message: DISABLED }))
    const token = randomToken(32)
    const now = yield* touched
    const updated = yield* store.users.modify(found.value.id, (current) =>
      Effect.succeed(
        new User({ ...current, access_token_hash: sha256Hex(token), last_login_time: now.update_time, ...now })
      )
    )
    if (Option.isNone(updated)) return yield* Effect.fail(failed)
    return { user: updated.value, token }
  })

  const authenticate = Effect.fn("Users.authenticate")(function* (token: string) {
    if (typeof token !== "string" || token.length === 0 || token.length > 512) {
      return yield* Effect.fail(new Unauthenticated({ message: BAD_SESSION }))
    }
    const found = yield* store.users.findFirst({ access_token_hash: sha256Hex(token) })
    if (Option.isNone(found)) return yield* Effect.fail(new Unauthenticated({ message: BAD_SESSION }))
    if (!isActive(found.value)) return yield* Effect.fail(new Unauthenticated({ message: DISABLED }))
    const user = found.value
    return new Caller({ tenantId: user.id as string as TenantId, userId: user.id })
  })

  const get = Effect.fn("Users.get")(function* (userId: UserId) {
    if (!isHex32(userId)) return yield* Effect.fail(notFound("User", String(userId)))
    const found = yield* store.users.get(userId)
    if (Option.isNone(found)) return yield* Effect.fail(notFound("User", userId))
    return found.value
  })

  const logout = Effect.fn("Users.logout")(function* (userId: UserId) {
    if (!isHex32(userId)) return yield* Effect.fail(notFound("User", String(userId)))
    const now = yield* touched
    const updated = yield* store.users.modify(userId, (current) =>
      Effect.succeed(current.access_token_hash === null ? current : new User({ ...current, access_token_hash: null, ...now }))
    )
    if (Option.isNone(updated)) return yield* Effect.fail(notFound("User", userId))
  })

  const update = Effect.fn("Users.update")(function* (caller: Caller, input: UpdateUserInput) {
    const user = yield* get(caller.userId)
    const patch: {
      -readonly [K in "nickname" | "avatar" | "language" | "timezone" | "color_schema" | "password_hash"]?: string
    } = {}
    if (input.nickname !== undefined) patch.nickname = yield* validate.name("nickname", input.nickname, NICKNAME_MAX)
    // Avatars are data URLs (base64 images), as RAGFlow keeps them.
    if (input.avatar !== undefined) patch.avatar = yield* validate.text("avatar", input.avatar, 2_000_000)
    if (input.language !== undefined) patch.language = yield* validate.name("language", input.language, 32)
    if (input.timezone !== undefined) patch.timezone = yield* validate.name("timezone", input.timezone, 64)
    if (input.color_schema !== undefined) {
      patch.color_schema = yield* validate.oneOf("color_schema", input.color_schema, ["Bright", "Dark"])
    }
    if (input.password !== undefined) {
      const wrong = invalid("password", "current password is wrong")
      const current = input.password.current
      if (typeof current !== "string" || [...current].length > PASSWORD_MAX) return yield* Effect.fail(wrong)
      const next = yield* password("password", input.password.next)
      if (!(yield* verifyPassword(current, user.password_hash))) return yield* Effect.fail(wrong)
      patch.password_hash = yield* hashPassword(next)
    }
    const now = yield* touched
    const updated = yield* store.users.modify(user.id, (latest) =>
      // The password was checked against `user`; if it changed since, that check is void.
      patch.password_hash !== undefined && latest.password_hash !== user.password_hash
        ? Effect.fail(invalid("password", "current password is wrong"))
        : Effect.succeed(new User({ ...latest, ...patch, ...now }))
    )
    if (Option.isNone(updated)) return yield* Effect.fail(notFound("User", user.id))
    return updated.value
  })

  return Users.of({ register, login, authenticate, logout, get, update })
})

/** Requires `RecordStore`. */
export const layer = (defaults: TenantDefaults = {}) => Layer.effect(Users, make(defaults))
