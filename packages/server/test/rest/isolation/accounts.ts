/** Isolation cases of `rest/Tenants.ts` and `rest/Models.ts` (`rest/Users.ts` takes no ids). */
import type { Account } from "../../support/seedServer.js"
import { type Cases, type Context, dataOf } from "./cases.js"

/** The owner's team as the owner sees it: its members and their roles. */
const team = async ({ owner, send }: Context) =>
  (dataOf(await send("restTenants.members", owner, { params: { tenant_id: owner.caller.tenantId } })) as Array<{ user_id: string; role: string }>)
    .map((m) => `${m.user_id}:${m.role}`)
    .sort()

/** A third user invited to the owner's team (once per server: accounts are slow to make), so the team has a member to act on. */
const invitees = new WeakMap<object, Promise<Account>>()
const withInvitee = (ctx: Context) => {
  let invitee = invitees.get(ctx.server)
  if (invitee === undefined) {
    invitee = ctx.server.account(`${ctx.unique("rest-isolation-invitee")}@example.com`).then(async (account) => {
      dataOf(await ctx.send("restTenants.invite", ctx.owner, { params: { tenant_id: ctx.owner.caller.tenantId }, json: { email: account.email } }))
      return account
    })
    invitees.set(ctx.server, invitee)
  }
  return invitee
}

const tenants: Cases = {
  "restTenants.members": {
    setup: async ({ owner }) => ({ params: { tenant_id: owner.caller.tenantId } }),
    readBack: team
  },
  "restTenants.invite": {
    // The stranger invites themselves to the owner's team.
    setup: async ({ owner, stranger }) => ({ params: { tenant_id: owner.caller.tenantId }, json: { email: stranger.email } }),
    readBack: team
  },
  "restTenants.remove": {
    setup: async (ctx) => {
      const invitee = await withInvitee(ctx)
      return { params: { tenant_id: ctx.owner.caller.tenantId }, json: { user_id: invitee.caller.userId } }
    },
    readBack: team
  },
  "restTenants.accept": {
    setup: async (ctx) => {
      await withInvitee(ctx)
      return { params: { tenant_id: ctx.owner.caller.tenantId } }
    },
    readBack: team
  }
}

/** The owner's providers and default models. */
const modelsOf = async ({ owner, send }: Context) => ({
  providers: (dataOf(await send("restModels.providers", owner)) as Array<{ provider_name: string }>).map((p) => p.provider_name).sort(),
  defaults: dataOf(await send("restModels.defaults", owner))
})

const models: Cases = {
  "restModels.addInstance": {
    setup: async (ctx) => {
      const name = ctx.unique("rest-isolation-provider")
      dataOf(await ctx.send("restModels.addProvider", ctx.owner, { json: { provider_name: name, kind: "test" } }))
      return { params: { provider_name: name }, json: { instance_name: ctx.unique("rest-isolation-instance") } }
    },
    readBack: modelsOf
  },
  "restModels.setDefault": {
    // The owner's own provider's model: the stranger's tenant has no such provider.
    setup: async (ctx) => {
      const name = ctx.unique("rest-isolation-models")
      dataOf(await ctx.send("restModels.addProvider", ctx.owner, { json: { provider_name: name, kind: "test" } }))
      return { json: { model_type: "chat", model_id: `echo@${name}` } }
    },
    readBack: modelsOf
  }
}

export const cases: Cases = { ...tenants, ...models }
