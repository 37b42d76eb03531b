/**
 * Who is asking: the tenant whose records a call works on, and the user acting in it. Every
 * service method takes one; the server derives it from the API token or session.
 */
import { Schema } from "effect"
import { DialogId, SessionId, TenantId, UserId } from "./Ids.js"

export class Caller extends Schema.Class<Caller>("Caller")({
  tenantId: TenantId,
  userId: UserId,
  /** The login session the caller authenticated with (`Users.authenticate`); absent for API keys and local callers. */
  sessionId: Schema.optional(SessionId),
  /**
   * Set for a dialog-scoped credential (an API key made for one dialog, or its `beta`): the caller
   * sees only this dialog and its conversations; any other is not found (`ApiTokens.authenticate`).
   */
  dialogId: Schema.optional(DialogId)
}) {}
