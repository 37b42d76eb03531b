/**
 * Who is asking: the tenant whose records a call works on, and the user acting in it. Every
 * service method takes one; the server derives it from the API token or session.
 */
import { Data } from "effect"
import type { TenantId, UserId } from "./Ids.js"

export class Caller extends Data.Class<{
  readonly tenantId: TenantId
  readonly userId: UserId
}> {}
