/**
 * The texts of a grounded answer: the knowledge block the system prompt quotes (numbered passages
 * with their documents' names, laid out as RAGFlow lays them out), the system prompt with its
 * `{knowledge}` and declared parameters filled in, the citation guidelines, and the two helper
 * prompts (rewriting a follow-up question from the conversation, extracting keywords).
 *
 * Pure functions: the completion service decides when each is used.
 */
import { Either } from "effect"
import { invalid, type InvalidInput } from "../domain/Errors.js"
import type { ChatMessage } from "../ports/ChatModel.js"

/** A passage as the model reads it: `ID: n`, the document's name, the content. */
export const passage = (id: number, title: string, content: string): string => {
  const titleLine = title === "" ? "" : `\n├── Title: ${title.replace(/\n+/g, " ")}`
  return `\nID: ${id}${titleLine}\n└── Content:\n${content}`
}

/** Between two passages of the knowledge block. */
export const PassageSeparator = "\n\n------\n\n"

/** The knowledge block of formatted passages (empty when there are none). */
export const knowledge = (passages: ReadonlyArray<string>): string =>
  passages.length === 0 ? "" : `\n------\n${passages.join(PassageSeparator)}`

/** A parameter a system prompt declares: `{key}` in its text. */
export interface Parameter {
  readonly key: string
  readonly optional?: boolean | undefined
}

/** The parameter the retrieved knowledge fills. */
export const KnowledgeKey = "knowledge"

/**
 * The value of each declared parameter (other than `knowledge`): the given one, or a blank for an
 * optional parameter that was not given. A required parameter without a value is `InvalidInput`
 * on `parameters.<key>`.
 */
export const parameterValues = (
  declared: ReadonlyArray<Parameter>,
  given: Readonly<Record<string, string>>
): Either.Either<Readonly<Record<string, string>>, InvalidInput> => {
  const values: Record<string, string> = {}
  for (const p of declared) {
    if (p.key === KnowledgeKey) continue
    const value = Object.hasOwn(given, p.key) ? given[p.key] : undefined
    if (value !== undefined) values[p.key] = value
    else if (p.optional === true) values[p.key] = " "
    else return Either.left(invalid(`parameters.${p.key}`, `Parameter '${p.key}' is required by the dialog's prompt`))
  }
  return Either.right(values)
}

/**
 * The template with each `{key}` that has a value replaced, in one pass (a value that itself holds
 * `{...}` is not expanded again); other braces are left as written.
 */
export const render = (template: string, values: Readonly<Record<string, string>>): string =>
  template.replace(/\{([^{}\s]+)\}/g, (whole, key: string) => (Object.hasOwn(values, key) ? values[key]! : whole))

/**
 * The system prompt: the template with the parameters and the knowledge filled in. A template
 * without `{knowledge}` gets the knowledge appended (so the model still sees it), as RAGFlow does.
 */
export const systemPrompt = (template: string, values: Readonly<Record<string, string>>, knowledgeBlock: string): string => {
  const text = render(template, { ...values, [KnowledgeKey]: knowledgeBlock })
  return template.includes(`{${KnowledgeKey}}`) ? text : text + knowledgeBlock
}

/** How answers cite the knowledge; appended to the system prompt when the dialog quotes its sources. */
export const citationGuidelines = `

# How to cite
The knowledge above is made of passages, each starting with "ID: n". When a sentence of your answer
states something taken from a passage, end the sentence with that passage's marker, before the final
punctuation: [ID:n]. For several passages write one marker per passage, [ID:1][ID:4], never
[ID:1, ID:4]; at most four markers per sentence.
- Cite facts: figures, dates, names, definitions, causes, quotations, claims someone made.
- Do not cite common knowledge, transitions, or your own reasoning.
- Never cite a passage that is not in the knowledge above, and never invent an ID.
- Leave the rest of the text as you would write it: no other marker style.

Example. Knowledge:
ID: 7
└── Content: The bridge opened in 1932 and carries eight lanes.
Question: When did the bridge open?
Answer: The bridge opened in 1932 [ID:7].`

/** Asks for the question the user's last message means, given the conversation (multi-turn refinement). */
export const refineQuestionMessages = (
  conversation: ReadonlyArray<ChatMessage>,
  today: string
): ReadonlyArray<ChatMessage> => {
  const lines = conversation
    .filter((m) => m.role === "user" || m.role === "assistant")
    .map((m) => `${m.role.toUpperCase()}: ${m.content}`)
    .join("\n")
  const system = `You rewrite the last question of a conversation so that it can be understood on its own.

Rules:
- Replace pronouns and references to earlier turns by what they stand for.
- Turn relative dates into absolute ones; today is ${today}.
- If the last question is already complete, return it unchanged.
- Keep the language of the user's question.
- Output the question only: no explanation, no quotes, no prefix.

Example:
USER: Who wrote Dracula?
ASSISTANT: Bram Stoker.
USER: When was he born?
Output: When was Bram Stoker born?

Conversation:
${lines}`
  return [
    { role: "system", content: system },
    { role: "user", content: "Output:" }
  ]
}

/** Asks for the `count` most important keywords of a text, comma separated (keyword extraction). */
export const keywordMessages = (text: string, count = 3): ReadonlyArray<ChatMessage> => [
  {
    role: "system",
    content: `You extract keywords. Give the ${count} most important keywords or short phrases of the text below, in the
language of the text, separated by commas. Output the keywords only.

Text:
${text}`
  },
  { role: "user", content: "Output:" }
]

/**
 * Asks for `text` translated into each of `languages`, the translations separated by lines of
 * `###` (cross-language retrieval, after RAGFlow's `cross_languages` prompt).
 */
export const crossLanguagesMessages = (text: string, languages: ReadonlyArray<string>): ReadonlyArray<ChatMessage> => [
  {
    role: "system",
    content: `You translate search queries. Translate the query below into each of the target languages, keeping technical
terms accurate. Output one translation per language, in the order given, separated by a line containing only ###.
Output the translations only.

Example:
Query: Hello World! Let's discuss AI safety.
Languages: French, German
Output:
Bonjour le monde ! Parlons de la sécurité de l'IA.
###
Hallo Welt! Lass uns über KI-Sicherheit sprechen.`
  },
  { role: "user", content: `Query: ${text}\nLanguages: ${languages.join(", ")}\nOutput:` }
]

/** The translations of a `crossLanguagesMessages` answer, one a line (empty when there are none). */
export const translations = (answer: string): string =>
  cleanHelperAnswer(answer)
    .split(/^\s*#{3,}\s*$/m)
    .map((t) => t.trim())
    .filter((t) => t !== "")
    .join("\n")

/**
 * What a helper call answered, cleaned: any reasoning before `</think>` dropped, an `Output:` prefix
 * and surrounding quotes removed, trimmed.
 */
export const cleanHelperAnswer = (text: string): string =>
  text
    .replace(/^[\s\S]*<\/think>/, "")
    .trim()
    .replace(/^output\s*:\s*/i, "")
    .replace(/^["'“”]+|["'“”]+$/g, "")
    .trim()
