import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Prompt from "../../src/chat/Prompt.js"

describe("Prompt", () => {
  it("lays passages out as RAGFlow's kb_prompt does, joined by its separators", () => {
    const a = Prompt.passage(0, "pets.txt", "Otters hold hands.")
    expect(a).toBe("\nID: 0\n├── Title: pets.txt\n└── Content:\nOtters hold hands.")
    expect(Prompt.passage(3, "two\n\nlines.txt", "x")).toBe("\nID: 3\n├── Title: two lines.txt\n└── Content:\nx")
    const b = Prompt.passage(1, "space.txt", "Mars has two moons.")
    expect(Prompt.knowledge([a, b])).toBe(`\n------\n${a}\n\n------\n\n${b}`)
    expect(Prompt.knowledge([])).toBe("")
  })

  it("fills declared parameters in one pass; a missing required one names itself", () => {
    const declared = [{ key: "knowledge" }, { key: "tone" }, { key: "audience", optional: true }]
    const values = Prompt.parameterValues(declared, { tone: "friendly {audience}" })
    expect(values).toEqual(Either.right({ tone: "friendly {audience}", audience: " " }))
    const text = Prompt.systemPrompt("Be {tone} to {audience}. {unknown} Know: {knowledge}", Either.getOrThrow(values), "K")
    // A value holding braces is not expanded again, and undeclared braces stay as written.
    expect(text).toBe("Be friendly {audience} to  . {unknown} Know: K")

    const missing = Prompt.parameterValues(declared, {})
    expect(Either.isLeft(missing) && missing.left).toMatchObject({ _tag: "InvalidInput", field: "parameters.tone" })
    expect(Either.isLeft(missing) && missing.left.message).toBe("Parameter 'tone' is required by the dialog's prompt")
    // `knowledge` is never asked of the caller; an inherited key is not a value.
    expect(Prompt.parameterValues([{ key: "knowledge" }, { key: "toString" }], {})).toMatchObject({ _tag: "Left" })
  })

  it("appends the knowledge to a system prompt without {knowledge}", () => {
    expect(Prompt.systemPrompt("Answer briefly.", {}, "\n------\nK")).toBe("Answer briefly.\n------\nK")
  })

  it("asks the helper questions with the conversation and cleans their answers", () => {
    const refine = Prompt.refineQuestionMessages(
      [
        { role: "user", content: "Who wrote Dracula?" },
        { role: "assistant", content: "Bram Stoker." },
        { role: "user", content: "When was he born?" }
      ],
      "2026-01-02"
    )
    expect(refine[0]!.content).toContain("USER: Who wrote Dracula?\nASSISTANT: Bram Stoker.\nUSER: When was he born?")
    expect(refine[0]!.content).toContain("today is 2026-01-02")
    expect(Prompt.keywordMessages("Otters sleep.", 3)[0]!.content).toContain("Otters sleep.")
    expect(Prompt.cleanHelperAnswer("<think>hmm</think>\nOutput: \"When was Bram Stoker born?\"")).toBe("When was Bram Stoker born?")
  })
})
