/** Isolation cases of `rest/System.ts`. */
import { type Cases, dataOf } from "./cases.js"

export const cases: Cases = {
  "restSystem.removeToken": {
    setup: async ({ owner, send }) => {
      const created = dataOf(await send("restSystem.createToken", owner))
      return { params: { token: created.id } }
    },
    readBack: async ({ owner, send }) => (dataOf(await send("restSystem.listTokens", owner)) as Array<{ id: string }>).map((t) => t.id).sort()
  }
}
