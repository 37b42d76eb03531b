/** A fresh user (and its tenant) for a benchmark run, made through the Users service as a host would. */
import { Caller, type TenantId, Users } from "@ragkit/core"
import { Effect } from "effect"

export const newBenchCaller = Effect.gen(function* () {
  const users = yield* Users.Users
  const user = yield* users.register({
    email: `bench-${Date.now()}-${Math.floor(Math.random() * 1e6)}@ragkit.local`,
    nickname: "bench",
    password: "bench-password-1234"
  })
  return new Caller({ tenantId: user.id as string as TenantId, userId: user.id })
})
