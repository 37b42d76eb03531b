/** Optional peers of the model plugins, as `ModelError`s: `NotConfigured` when not installed. */
import { ModelError, type OptionalPeer } from "@ragkit/core"
import { Effect } from "effect"

export const asModelError = <A>(
  peer: Effect.Effect<A, OptionalPeer.OptionalPeerError>,
  model: string
): Effect.Effect<A, ModelError> =>
  Effect.mapError(peer, (error) =>
    new ModelError({ reason: error.missing ? "NotConfigured" : "Unavailable", model, message: error.message, cause: error.cause }))
