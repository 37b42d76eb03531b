/** Every area's isolation cases; an area's engineer adds its file here (one import, one spread). */
import type { Cases } from "./cases.js"
import { cases as chats } from "./chats.js"
import { cases as chunks } from "./chunks.js"
import { cases as datasets } from "./datasets.js"
import { cases as system } from "./system.js"
import { cases as accounts } from "./accounts.js"

export const cases: Cases = {
  ...chats,
  ...chunks,
  ...datasets,
  ...system,
  ...accounts
}
