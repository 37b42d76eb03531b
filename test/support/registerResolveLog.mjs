import { register } from "node:module"

register("./resolveLog.mjs", import.meta.url)
