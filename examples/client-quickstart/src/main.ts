/**
 * The README's walkthrough with `@ragkit/client` instead of curl: register, log in, make an API
 * key, create a knowledge base, upload the kettle manual, parse it, and ask a chat assistant about
 * it. Every call is typed from the server's own API definitions.
 *
 *   pnpm start                                                   # in one terminal (the server)
 *   pnpm --filter @ragkit/example-client-quickstart start [base-url] [email]
 */
import { createClient } from "@ragkit/client"
import { readFile } from "node:fs/promises"
import { pathToFileURL } from "node:url"

const manual = new URL("../../../docs/walkthrough/aurora-manual.pdf", import.meta.url)

export const run = async (baseUrl: string, email: string, log: (line: string) => void = console.log) => {
  // Register, then log in: the session token is data.access_token
  const anonymous = createClient({ baseUrl })
  await anonymous.user.register({ payload: { email, nickname: "Ada", password: "correct horse" } })
  const login = await anonymous.user.login({ payload: { email, password: "correct horse" } })

  // An API key for the rest
  const key = (await createClient({ baseUrl, apiKey: login.data.access_token }).system.newToken()).data.token
  const ragkit = createClient({ baseUrl, apiKey: key })

  // A knowledge base, a PDF uploaded to it, parsed
  const kb = (await ragkit.kbs.create({ payload: { name: "Manuals" } })).data.kb_id
  const form = new FormData()
  form.append("kb_id", kb)
  form.append("file", new Blob([await readFile(manual)], { type: "application/pdf" }), "aurora-manual.pdf")
  const doc = (await ragkit.documents.upload({ urlParams: {}, payload: form })).data[0]!.id
  await ragkit.documents.run({ payload: { doc_ids: [doc], run: "1" } })

  // Poll until parsed: run is "1" while parsing, then "3" (done) or "4" (failed: see progress_msg)
  const parsed = async () => (await ragkit.documents.list({ urlParams: { kb_id: kb }, payload: {} })).data.docs[0]!
  let document = await parsed()
  while (document.run === "0" || document.run === "1") {
    await new Promise((resolve) => setTimeout(resolve, 500))
    document = await parsed()
  }
  log(`${document.name}: run ${document.run}, ${document.chunk_num} chunks`)

  // A chat assistant over the knowledge base, a conversation, a question
  const dialog = (await ragkit.dialogs.set({ payload: { name: "Kettle help", kb_ids: [kb] } })).data.id
  const conversation = (await ragkit.conversations.set({ payload: { dialog_id: dialog, is_new: true, name: "Descaling" } })).data.id
  const { data } = await ragkit.conversations.completion({
    payload: { conversation_id: conversation, stream: false, messages: [{ role: "user", content: "How often should I descale the kettle?" }] }
  })
  log(data.answer)
  log(`sources: ${data.reference.doc_aggs.map((d) => d.doc_name).join(", ")}`)
  return data
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await run(process.argv[2] ?? "http://127.0.0.1:9380", process.argv[3] ?? `ada-${Date.now()}@example.com`)
}
