/**
 * Users: sign-up, password login and sessions, profile changes.
 *
 * As in RAGFlow, signing up also creates the user's own tenant (its id is the user's id) with the
 * user as owner. A user may have several sessions at once (one per device, at most
 * `MAX_SESSIONS`); each ends when it expires (`sessionLifetime`, 7 days by default), at logout
 * (that session only), or when the password changes (all of the user's sessions, the one making
 * the change included, as RAGFlow does: every device logs in again with the new password).
 *
 * Passwords are kept as scrypt hashes (N = `passwordCost`, 2^17 by default; a hash made at a
 * smaller cost is replaced at the next successful login), session tokens as their SHA-256; neither
 * leaves the service: users are returned as `PublicUser`.
 *
 * Failed logins are limited per account (the e-mail asked for, whether or not it has an account)
 * and per client address (`LoginContext.address`, given by the host): `loginLimits`, by default 10
 * failures per account and 50 per address within 15 minutes. Past a limit, a login is refused
 * before its password is checked, with `TooManyAttempts` (its `retryAfterSeconds` is when the
 * oldest counted failure leaves the window): the HTTP server answers 429 with `Retry-After`. The
 * failures are rows of the record store (`loginFailures`, keyed by a SHA-256 of the account or the
 * address, never either in clear), so every process on one database shares the limit; attempts
 * made at the same instant may each pass the check, so a burst can go a few over it. A successful
 * login clears its account's failures (not its address's); a limited attempt is not counted.
 * Per-account limits let anyone who knows an address hold its owner out for a window: the price of
 * stopping password guessing, as with any account lockout.
 *
 * Sign-up can be closed (`registration: "closed"`): `register` then fails `Forbidden` with
 * RAGFlow's message ("User registration is disabled!"), except for a host's own sign-ups
 * (`RegisterContext.byHost`: the server's `user create` command, a local host's user), which no
 * HTTP request may ask for.
 */
import { Clock, Context, Duration, Effect, Layer, Option, Schema, Struct } from "effect"
import { Caller } from "../domain/Caller.js"
import {
  AlreadyExists,
  Forbidden,
  invalid,
  type InvalidInput,
  NotFound,
  notFound,
  type StoreError,
  TooManyAttempts,
  Unauthenticated
} from "../domain/Errors.js"
import * as Fields from "../domain/Fields.js"
import { type LoginFailureId, randomHex32, type SessionId, type TenantId, type TenantMemberId, type UserId } from "../domain/Ids.js"
import { LoginFailure, Session, Tenant, TenantMember, User } from "../domain/Records.js"
import { newStamps, touched } from "../domain/Time.js"
import { RecordStore } from "../ports/RecordStore.js"
import { lastUseIsStale, passwords, randomToken, sha256Hex } from "./internal/secrets.js"

// ---------------------------------------------------------------------------------------------
// Requests and results

const PASSWORD_MIN = 8
const PASSWORD_MAX = 1024
/** Session tokens are 43 characters; anything much longer is not one. */
const TOKEN_MAX = 512

/** A new password: 8 to 1024 characters, kept as given (spaces count). */
const Password = Fields.Text(PASSWORD_MAX).pipe(
  Schema.filter((s) => [...s].length >= PASSWORD_MIN, {
    message: () => `must be at least ${PASSWORD_MIN} characters`,
    jsonSchema: { minLength: PASSWORD_MIN }
  })
)

export const RegisterRequest = Schema.Struct({
  email: Fields.Email,
  nickname: Fields.Name(100),
  password: Password
})
export type RegisterRequest = typeof RegisterRequest.Type

/**
 * Any strings: a login with an address or password that can't be right fails like a wrong
 * password (`Unauthenticated`), never `InvalidInput`, so a login form learns nothing more.
 */
export const LoginRequest = Schema.Struct({
  /** Compared trimmed and lower-cased. */
  email: Fields.String,
  password: Fields.String
})
export type LoginRequest = typeof LoginRequest.Type

/** Who signs a user up: `byHost` for the host itself (an administrator's command), which closed registration allows. */
export interface RegisterContext {
  readonly byHost?: boolean
}

/** What the host knows of a login beyond its request: the client's address, for the per-address limit. */
export interface LoginContext {
  /** The client's IP address as the host sees it (behind a proxy: the address the proxy reports). */
  readonly address?: string | undefined
}

/** A user as others (and the user) see it: no password hash. */
export const PublicUser = Schema.Struct(Struct.omit(User.fields, "password_hash"))
export type PublicUser = typeof PublicUser.Type

export const publicUser = (user: User): PublicUser => {
  const { password_hash: _password, ...rest } = user
  return rest
}

export const LoginResult = Schema.Struct({
  user: PublicUser,
  /** The session token; only its SHA-256 is stored. */
  token: Schema.String,
  /** When the session ends unless logged out before (epoch milliseconds). */
  expire_time: Schema.Number
})
export type LoginResult = typeof LoginResult.Type

/** Any string: a token that can't be one is refused like an unknown one (`Unauthenticated`). */
export const AuthenticateRequest = Schema.Struct({ token: Fields.String })
export type AuthenticateRequest = typeof AuthenticateRequest.Type

/** The caller's own session or profile: nothing to say. */
export const SelfRequest = Schema.Struct({})
export type SelfRequest = typeof SelfRequest.Type

/** Absent fields keep their value; a new password needs the current one. */
export const UpdateRequest = Schema.Struct({
  nickname: Schema.optional(Fields.Name(100)),
  /** A data URL (a base64 image), as RAGFlow keeps avatars. */
  avatar: Schema.optional(Fields.Text(2_000_000)),
  language: Schema.optional(Fields.Name(32)),
  /** RAGFlow's `UTC+8\tAsia/Shanghai` form. */
  timezone: Schema.optional(Fields.Name(64)),
  color_schema: Schema.optional(Fields.OneOf("Bright", "Dark")),
  password: Schema.optional(Schema.Struct({ current: Fields.String, next: Password }))
})
export type UpdateRequest = typeof UpdateRequest.Type

/** Each method's request and result, for the surfaces that decode what callers send. */
export const Operations = {
  register: Fields.anonymous(RegisterRequest, PublicUser),
  login: Fields.anonymous(LoginRequest, LoginResult),
  authenticate: Fields.anonymous(AuthenticateRequest, Caller),
  logout: Fields.operation(SelfRequest, Schema.Void),
  get: Fields.operation(SelfRequest, PublicUser),
  update: Fields.operation(UpdateRequest, PublicUser)
}

// ---------------------------------------------------------------------------------------------
// The service

export interface UsersService {
  /**
   * Creates the user, its own tenant and its owner membership, all or nothing. `Forbidden` when the
   * deployment closed registration, unless `context.byHost`.
   */
  readonly register: (
    request: RegisterRequest,
    context?: RegisterContext
  ) => Effect.Effect<PublicUser, AlreadyExists | Forbidden | StoreError>
  /**
   * Checks the password and opens a new session; the user's other sessions go on. `TooManyAttempts`
   * past the failed-login limits (the account's, and the address's when `context` names one).
   */
  readonly login: (
    request: LoginRequest,
    context?: LoginContext
  ) => Effect.Effect<LoginResult, Unauthenticated | TooManyAttempts | StoreError>
  /** The caller behind a session token, with the session's id (`Caller.sessionId`). */
  readonly authenticate: (request: AuthenticateRequest) => Effect.Effect<Caller, Unauthenticated | StoreError>
  /** Ends the caller's session (`Caller.sessionId`), and only that one. */
  readonly logout: (caller: Caller, request: SelfRequest) => Effect.Effect<void, NotFound | StoreError>
  /** The caller's own profile. */
  readonly get: (caller: Caller, request: SelfRequest) => Effect.Effect<PublicUser, NotFound | StoreError>
  /** Changes the caller's own profile; a new password ends all of the user's sessions. */
  readonly update: (caller: Caller, request: UpdateRequest) => Effect.Effect<PublicUser, InvalidInput | NotFound | StoreError>
}

export class Users extends Context.Tag("@ragkit/core/Users")<Users, UsersService>() {}

/** RAGFlow's default chunk methods offered to a new tenant. */
const DEFAULT_PARSER_IDS =
  "naive:General,qa:Q&A,resume:Resume,manual:Manual,table:Table,paper:Paper,book:Book,laws:Laws," +
  "presentation:Presentation,picture:Picture,one:One,audio:Audio,email:Email,tag:Tag"

const LOGIN_FAILED = "Email and password do not match"
const DISABLED = "This account has been disabled"
const BAD_SESSION = "Invalid or expired session"
const WRONG_PASSWORD = "current password is wrong"

const isActive = (user: User): boolean => user.is_active === "1" && user.status === "1"

/** Sessions a user may hold at once; a login beyond it ends the oldest. */
export const MAX_SESSIONS = 100

/** The default models a new user's tenant starts with (`name@provider`, or empty). */
export interface TenantDefaults {
  readonly llm_id?: string
  readonly embd_id?: string
  readonly rerank_id?: string
}

/** At most `attempts` failed logins within `window`. */
export interface LoginLimit {
  readonly attempts: number
  readonly window: Duration.DurationInput
}

/** The failed-login limits; `false` turns one off. */
export interface LoginLimits {
  /** Per account (the e-mail asked for). Default 10 in 15 minutes. */
  readonly account?: LoginLimit | false
  /** Per client address (`LoginContext.address`). Default 50 in 15 minutes. */
  readonly address?: LoginLimit | false
}

export const DEFAULT_LOGIN_LIMITS = {
  account: { attempts: 10, window: Duration.minutes(15) },
  address: { attempts: 50, window: Duration.minutes(15) }
} as const satisfies LoginLimits

/** RAGFlow's message when sign-up is off. */
export const REGISTRATION_DISABLED = "User registration is disabled!"

/** The deployment's account settings. */
export interface UsersOptions {
  readonly tenantDefaults?: TenantDefaults
  /** `closed`: `register` fails `Forbidden` (users are made by an administrator). Default `open`. */
  readonly registration?: "open" | "closed"
  /** Failed logins per account and per address (see the module doc). */
  readonly loginLimits?: LoginLimits
  /** How long a login session lasts: 7 days by default. */
  readonly sessionLifetime?: Duration.DurationInput
  /**
   * scrypt's N for new password hashes, a power of two: 2^17 by default (OWASP; 128 MiB and about
   * half a second per hash). Tests that hash many passwords may lower it; a deployment should not.
   */
  readonly passwordCost?: number
}

export const make = (options: UsersOptions = {}) => Effect.gen(function* () {
  const store = yield* RecordStore
  const defaults = options.tenantDefaults ?? {}
  const lifetimeMs = Duration.toMillis(Duration.decode(options.sessionLifetime ?? Duration.days(7)))
  if (!(lifetimeMs > 0)) return yield* Effect.dieMessage("Users: sessionLifetime must be positive")
  // A bad cost is the deployment's mistake: a defect when the layer is built.
  const hashing = yield* Effect.sync(() => passwords(options.passwordCost))
  const limits = yield* loginLimitsOf(options.loginLimits)
  /** Failures older than the longest window count for nothing: they are removed as new ones come. */
  const keepMs = Math.max(0, ...limits.map((l) => l.windowMs))

  /** The caller's user record. */
  const self = (caller: Caller) =>
    Effect.flatMap(store.users.get(caller.userId), (found) =>
      Option.match(found, { onNone: () => Effect.fail(notFound("User", caller.userId)), onSome: Effect.succeed })
    )

  const register = Effect.fn("Users.register")(function* (request: RegisterRequest, context?: RegisterContext) {
    if (options.registration === "closed" && context?.byHost !== true) return yield* Effect.fail(new Forbidden({ message: REGISTRATION_DISABLED }))
    const { email, nickname } = request
    // Hash before the transaction: scrypt takes tens of milliseconds and must not hold locks.
    const password_hash = yield* hashing.hash(request.password)
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
        return publicUser(user)
      })
    )
  })

  /** The limited keys of a login attempt, each with its limit. */
  const limitedKeys = (email: string, context: LoginContext | undefined) =>
    limits.flatMap((limit) => {
      if (limit.of === "account") return [{ ...limit, key: sha256Hex(`account\0${email}`) }]
      const address = context?.address?.trim().toLowerCase() ?? ""
      return address === "" ? [] : [{ ...limit, key: sha256Hex(`address\0${address}`) }]
    })

  /** Fails `TooManyAttempts` when a key holds `attempts` failures within its window. */
  const checkLimits = (keys: ReturnType<typeof limitedKeys>, now: number) =>
    Effect.forEach(keys, (limit) =>
      Effect.gen(function* () {
        // The `attempts`-th most recent failure within the window: the limit holds until it leaves.
        const page = yield* store.loginFailures.find({
          where: { key: limit.key, create_time: { gte: now - limit.windowMs + 1 } },
          orderBy: "create_time",
          desc: true,
          offset: limit.attempts - 1,
          limit: 1
        })
        const [oldest] = page.items
        if (oldest === undefined) return
        const retryAfterSeconds = Math.max(1, Math.ceil((oldest.create_time + limit.windowMs - now) / 1000))
        return yield* Effect.fail(
          new TooManyAttempts({ retryAfterSeconds, message: `Too many failed logins; try again in ${retryAfterSeconds} seconds` })
        )
      }), { discard: true })

  /** Records a failed login against each key, removing failures past every window. */
  const recordFailure = (keys: ReturnType<typeof limitedKeys>, now: number) =>
    keys.length === 0
      ? Effect.void
      : store.transaction(
          Effect.gen(function* () {
            yield* store.loginFailures.removeWhere({ create_time: { lte: now - keepMs } })
            for (const { key } of keys) {
              yield* store.loginFailures.insert(new LoginFailure({ id: randomHex32() as LoginFailureId, key, create_time: now }))
            }
          })
        )

  const login = Effect.fn("Users.login")(function* (request: LoginRequest, context?: LoginContext) {
    const failed = new Unauthenticated({ message: LOGIN_FAILED })
    const email = request.email.trim().toLowerCase()
    const keys = limitedKeys(email, context)
    const attemptedAt = yield* Clock.currentTimeMillis
    yield* checkLimits(keys, attemptedAt)
    if ([...request.password].length > PASSWORD_MAX) {
      yield* recordFailure(keys, attemptedAt)
      return yield* Effect.fail(failed)
    }
    const found = yield* store.users.findFirst({ email })
    // An unknown address costs one scrypt too, so timing does not tell which addresses exist.
    const stored = Option.isSome(found) ? found.value.password_hash : hashing.decoy
    const matches = yield* hashing.verify(request.password, stored)
    if (Option.isNone(found) || !matches) {
      yield* recordFailure(keys, attemptedAt)
      return yield* Effect.fail(failed)
    }
    if (!isActive(found.value)) return yield* Effect.fail(new Unauthenticated({ message: DISABLED }))
    // A hash made at a smaller cost is replaced now that the password is known (hashed outside the transaction).
    const rehashed = hashing.weakerThanNew(stored) ? Option.some(yield* hashing.hash(request.password)) : Option.none<string>()
    const token = randomToken(32)
    const stamps = yield* newStamps
    const session = new Session({
      id: randomHex32() as SessionId,
      user_id: found.value.id,
      token_hash: sha256Hex(token),
      expire_time: stamps.create_time + lifetimeMs,
      last_used_time: null,
      ...stamps
    })
    const updated = yield* store.transaction(
      Effect.gen(function* () {
        const user = yield* store.users.modify(found.value.id, (current) =>
          Effect.succeed(
            new User({
              ...current,
              // Only over the hash that was checked: a password changed meanwhile stays.
              password_hash: Option.isSome(rehashed) && current.password_hash === stored ? rehashed.value : current.password_hash,
              last_login_time: stamps.update_time,
              update_time: stamps.update_time,
              update_date: stamps.update_date
            })
          )
        )
        if (Option.isNone(user)) return user
        yield* store.sessions.insert(session)
        yield* endStaleSessions(user.value.id, stamps.create_time)
        // The account's failures are forgiven; its address's are not (it may be guessing others).
        const accountKey = keys.find((k) => k.of === "account")
        if (accountKey !== undefined) yield* store.loginFailures.removeWhere({ key: accountKey.key })
        return user
      })
    )
    if (Option.isNone(updated)) return yield* Effect.fail(failed)
    return { user: publicUser(updated.value), token, expire_time: session.expire_time }
  })

  /** Ends the user's expired sessions, and the oldest beyond `MAX_SESSIONS`. */
  const endStaleSessions = (userId: UserId, now: number) =>
    Effect.gen(function* () {
      yield* store.sessions.removeWhere({ user_id: userId, expire_time: { lte: now } })
      const beyond = yield* store.sessions.find({ where: { user_id: userId }, orderBy: "create_time", desc: true, offset: MAX_SESSIONS })
      yield* store.sessions.remove(beyond.items.map((s) => s.id))
    })

  const authenticate = Effect.fn("Users.authenticate")(function* (request: AuthenticateRequest) {
    const { token } = request
    const refused = new Unauthenticated({ message: BAD_SESSION })
    if (token.length === 0 || token.length > TOKEN_MAX) return yield* Effect.fail(refused)
    const found = yield* store.sessions.findFirst({ token_hash: sha256Hex(token) })
    if (Option.isNone(found)) return yield* Effect.fail(refused)
    const session = found.value
    const now = yield* Clock.currentTimeMillis
    if (now >= session.expire_time) {
      yield* store.sessions.remove([session.id])
      return yield* Effect.fail(refused)
    }
    const user = yield* store.users.get(session.user_id)
    if (Option.isNone(user)) return yield* Effect.fail(refused)
    if (!isActive(user.value)) return yield* Effect.fail(new Unauthenticated({ message: DISABLED }))
    if (lastUseIsStale(session.last_used_time, now)) {
      const used = yield* store.sessions.modify(session.id, (current) =>
        Effect.succeed(lastUseIsStale(current.last_used_time, now) ? new Session({ ...current, last_used_time: now }) : current)
      )
      // Ended meanwhile (a logout or a password change): it no longer authenticates.
      if (Option.isNone(used)) return yield* Effect.fail(refused)
    }
    return new Caller({ tenantId: user.value.id as string as TenantId, userId: user.value.id, sessionId: session.id })
  })

  const get = Effect.fn("Users.get")(function* (caller: Caller, _request: SelfRequest) {
    return publicUser(yield* self(caller))
  })

  const logout = Effect.fn("Users.logout")(function* (caller: Caller, _request: SelfRequest) {
    const { sessionId } = caller
    if (sessionId === undefined) {
      return yield* Effect.fail(new NotFound({ entity: "Session", id: "", message: "the caller has no login session to end" }))
    }
    const ended = yield* store.sessions.removeWhere({ id: sessionId, user_id: caller.userId })
    if (ended === 0) return yield* Effect.fail(notFound("Session", sessionId))
  })

  const update = Effect.fn("Users.update")(function* (caller: Caller, request: UpdateRequest) {
    const user = yield* self(caller)
    const { password } = request
    let password_hash: string | undefined
    if (password !== undefined) {
      const wrong = invalid("password", WRONG_PASSWORD)
      // An over-long current password can't be right: refused without spending a hash on it.
      if ([...password.current].length > PASSWORD_MAX) return yield* Effect.fail(wrong)
      if (!(yield* hashing.verify(password.current, user.password_hash))) return yield* Effect.fail(wrong)
      password_hash = yield* hashing.hash(password.next)
    }
    const now = yield* touched
    const modified = store.users.modify(user.id, (latest) =>
      // The password was checked against `user`; if it changed since, that check is void.
      password_hash !== undefined && latest.password_hash !== user.password_hash
        ? Effect.fail(invalid("password", WRONG_PASSWORD))
        : Effect.succeed(
            new User({
              ...latest,
              nickname: request.nickname ?? latest.nickname,
              avatar: request.avatar ?? latest.avatar,
              language: request.language ?? latest.language,
              timezone: request.timezone ?? latest.timezone,
              color_schema: request.color_schema ?? latest.color_schema,
              password_hash: password_hash ?? latest.password_hash,
              ...now
            })
          )
    )
    // A new password ends every session of the user, in the same transaction.
    const updated = password_hash === undefined
      ? yield* modified
      : yield* store.transaction(Effect.tap(modified, () => store.sessions.removeWhere({ user_id: user.id })))
    if (Option.isNone(updated)) return yield* Effect.fail(notFound("User", user.id))
    return publicUser(updated.value)
  })

  return Users.of({ register, login, authenticate, logout, get, update })
})

/** The limits in force, checked when the layer is built (a bad limit is the deployment's mistake). */
const loginLimitsOf = (given: LoginLimits | undefined) =>
  Effect.suspend(() => {
    const out: Array<{ readonly of: "account" | "address"; readonly attempts: number; readonly windowMs: number }> = []
    for (const of of ["account", "address"] as const) {
      const limit = given?.[of] ?? DEFAULT_LOGIN_LIMITS[of]
      if (limit === false) continue
      const windowMs = Duration.toMillis(Duration.decode(limit.window))
      if (!Number.isInteger(limit.attempts) || limit.attempts < 1 || !(windowMs > 0) || !Number.isFinite(windowMs)) {
        return Effect.dieMessage(`Users: loginLimits.${of} needs a whole number of attempts (at least 1) and a finite, positive window`)
      }
      out.push({ of, attempts: limit.attempts, windowMs })
    }
    return Effect.succeed(out)
  })

/** Requires `RecordStore`. */
export const layer = (options: UsersOptions = {}) => Layer.effect(Users, make(options))
