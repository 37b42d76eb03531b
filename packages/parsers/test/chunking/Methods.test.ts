import { ChunkMethod, type Parser } from "@ragkit/core"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Chunking from "../../src/chunking/index.js"
import { doc, meta, table, text, title, WordsTokenizer, wordsLine } from "./helpers.js"

const Methods = Chunking.layer.pipe(Layer.provide(WordsTokenizer))

const chunkWith = (id: string, d: Parser.ParsedDocument, config: Record<string, unknown> = {}) =>
  Effect.flatMap(ChunkMethod.ChunkMethodRegistry, (registry) => Effect.flatMap(registry.require(id), (m) => m.chunk(d, config, meta)))

const contents = (id: string, d: Parser.ParsedDocument, config: Record<string, unknown> = {}) =>
  Effect.map(chunkWith(id, d, config), (chunks) => chunks.map((c) => c.content))

layer(Methods)("chunk methods", (it) => {
  it.effect("the registry has the twelve methods; resume, audio and knowledge_graph are Unsupported", () =>
    Effect.gen(function*() {
      const registry = yield* ChunkMethod.ChunkMethodRegistry
      expect([...registry.ids].sort()).toEqual(
        ["book", "email", "laws", "manual", "naive", "one", "paper", "picture", "presentation", "qa", "table", "tag"]
      )
      for (const id of ["resume", "audio", "knowledge_graph"]) {
        const error = yield* Effect.flip(registry.require(id))
        expect(error.reason).toBe("Unsupported")
      }
      for (const m of registry.methods) expect(m.accepts.length).toBeGreaterThan(0)
    }))

  it.effect("an empty document gives no chunks, with every method", () =>
    Effect.gen(function*() {
      const registry = yield* ChunkMethod.ChunkMethodRegistry
      for (const m of registry.methods) {
        expect(yield* m.chunk(doc(), {}, meta)).toEqual([])
        expect(yield* m.chunk(doc(text("  \n ")), {}, meta)).toEqual([])
      }
    }))

  it.effect("unknown config keys are accepted by every method", () =>
    Effect.gen(function*() {
      const registry = yield* ChunkMethod.ChunkMethodRegistry
      const d = doc(title("Intro", 1), text("Q: what? \nA: this."), table([["a", "b"], ["1", "x,y"]]))
      for (const m of registry.methods) {
        const plain = yield* m.chunk(d, {}, meta)
        expect(yield* m.chunk(d, { unheard_of: [1, 2], raptor: { use_raptor: true }, chunk_token_num: null }, meta)).toEqual(plain)
      }
    }))

  it.effect("qa: pairs from a two-column table, header row skipped", () =>
    Effect.gen(function*() {
      const chunks = yield* chunkWith(
        "qa",
        doc(table([["Question", "Answer"], ["What is RAG?", "Retrieval-augmented generation."], ["", "orphan"], ["Why?", "Because."]]))
      )
      expect(chunks.map((c) => c.content)).toEqual([
        "Question: What is RAG?\tAnswer: Retrieval-augmented generation.",
        "Question: Why?\tAnswer: Because."
      ])
      expect(chunks[0]!.questions).toEqual(["What is RAG?"])
    }))

  it.effect("qa: Q:/A: text in English and in Chinese", () =>
    Effect.gen(function*() {
      const english = yield* chunkWith(
        "qa",
        doc(text("Some preamble.\nQ: How do I reset my password?\nA: Open settings.\nThen click reset."), text("Question: Is it free?\nAnswer: Yes."))
      )
      expect(english.map((c) => c.content)).toEqual([
        "Question: How do I reset my password?\tAnswer: Open settings.\nThen click reset.",
        "Question: Is it free?\tAnswer: Yes."
      ])
      expect(english.map((c) => c.questions)).toEqual([["How do I reset my password?"], ["Is it free?"]])
      const chinese = yield* contents("qa", doc(text("问：如何重置密码？\n答：打开设置。\n问题：收费吗？\n答案：免费。")))
      expect(chinese).toEqual(["问题：如何重置密码？\t回答：打开设置。", "问题：收费吗？\t回答：免费。"])
    }))

  it.effect("qa: Markdown headings are questions, nested headings joined", () =>
    Effect.gen(function*() {
      const got = yield* contents(
        "qa",
        doc(title("Billing", 1), text("About money."), title("How do I pay?", 2), text("By card."), title("Refunds?", 2), text("Within 30 days."))
      )
      expect(got).toEqual([
        "Question: Billing\tAnswer: About money.",
        "Question: Billing\nHow do I pay?\tAnswer: By card.",
        "Question: Billing\nRefunds?\tAnswer: Within 30 days."
      ])
    }))

  it.effect("qa: TAB-separated lines", () =>
    Effect.gen(function*() {
      expect(yield* contents("qa", doc(text("What?\tThat.\nmore of that\nWho?\tMe.")))).toEqual([
        "Question: What?\tAnswer: That.\nmore of that",
        "Question: Who?\tAnswer: Me."
      ])
    }))

  it.effect("table: one chunk per row with the column names", () =>
    Effect.gen(function*() {
      const chunks = yield* chunkWith(
        "table",
        doc(table([["id", "Name", "Color (red, blue)", "Name", ""], ["7", "Ann", "red", "A.", "x"], ["8", "Bob", "", "", ""]], { page: 1 }))
      )
      expect(chunks.map((c) => c.content)).toEqual(["Name: Ann; Color (red, blue): red; Name_2: A.; Column_5: x", "Name: Bob"])
      expect((chunks[0] as Chunking.TableRowChunk).metadata.fields).toEqual({
        Name: "Ann",
        "Color (red, blue)": "red",
        Name_2: "A.",
        Column_5: "x"
      })
      expect(chunks[0]!.page_num).toEqual([1])
      // TAB-separated text: the first line names the columns.
      expect(yield* contents("table", doc(text("city\tpopulation\nParis\t2.1M\nbroken line\nRome\t2.8M")))).toEqual([
        "city: Paris; population: 2.1M",
        "city: Rome; population: 2.8M"
      ])
    }))

  it.effect("laws: each article is a chunk with its chapter; a table of contents is dropped", () =>
    Effect.gen(function*() {
      const got = yield* contents(
        "laws",
        doc(
          text("目录\n第一章 总则\n第二章 附则"),
          text("第一章 总则"),
          text("第一条 为了规范管理，制定本法。\n第二条 本法适用于全国。\n（一）城市；\n（二）乡村。"),
          text("第二章 附则\n第三条 本法自公布之日起施行。")
        )
      )
      expect(got).toEqual([
        "第一章 总则\n第一条 为了规范管理，制定本法。",
        "第一章 总则\n第二条 本法适用于全国。\n（一）城市；\n（二）乡村。",
        "第二章 附则\n第三条 本法自公布之日起施行。"
      ])
      const english = yield* contents(
        "laws",
        doc(text("Chapter 1 General\nArticle 1 This Act applies to all.\n(a) cities;\n(b) towns.\nArticle 2 Words have meanings.\nChapter 2 Final\nArticle 3 In force now."))
      )
      expect(english).toEqual([
        "Chapter 1 General\nArticle 1 This Act applies to all.\n(a) cities;\n(b) towns.",
        "Chapter 1 General\nArticle 2 Words have meanings.",
        "Chapter 2 Final\nArticle 3 In force now."
      ])
    }))

  it.effect("book: numbered headings give heading paths; the contents are dropped; the budget holds", () =>
    Effect.gen(function*() {
      const body = Array.from({ length: 6 }, (_, i) => `Sentence number ${i} talks about the scope, at length.`).join("\n")
      const got = yield* contents(
        "book",
        doc(
          text("Contents\n1 Introduction ........ 1\n1.1 Scope ........ 2\n2 Usage ........ 3"),
          text("1 Introduction"),
          text("1.1 Scope"),
          text(body),
          text("1.2 Terms\nA term is a word."),
          text("2 Usage\nUse it well.")
        ),
        { chunk_token_num: 30 }
      )
      expect(got.some((c) => c.includes("........"))).toBe(false)
      expect(got[0]!.startsWith("1 Introduction\n1.1 Scope\nSentence number 0")).toBe(true)
      expect(got.filter((c) => c.startsWith("1 Introduction\n1.1 Scope\n")).length).toBeGreaterThan(1)
      for (const c of got) expect(c.split(/\s+/).length).toBeLessThanOrEqual(30)
      expect(got.slice(-2)).toEqual(["1 Introduction\n1.2 Terms\nA term is a word.", "2 Usage\nUse it well."])
    }))

  it.effect("manual: parser heading levels give the heading path; tables stay in their section", () =>
    Effect.gen(function*() {
      const got = yield* contents(
        "manual",
        doc(
          title("Installation", 1),
          title("Linux", 2),
          text("Run the installer."),
          table([["flag", "meaning"], ["-y", "yes"]]),
          title("Windows", 2),
          text("Double-click setup.exe."),
          title("Usage", 1),
          text("Start it.")
        )
      )
      expect(got).toEqual([
        "Installation\nLinux\nRun the installer.\n<table><tr><th>flag</th><th>meaning</th></tr><tr><td>-y</td><td>yes</td></tr></table>",
        "Installation\nWindows\nDouble-click setup.exe.",
        "Usage\nStart it."
      ])
    }))

  it.effect("paper: the abstract is its own chunk, then sections by heading", () =>
    Effect.gen(function*() {
      const chunks = yield* chunkWith(
        "paper",
        doc(
          title("A Study of Things"),
          text("Ann Author, Bob Writer"),
          title("Abstract"),
          text("We study things. Things are interesting and we show why in detail."),
          title("1 Introduction"),
          text("Things matter."),
          title("2 Method"),
          text("We looked."),
          title("3 Results"),
          text("We saw.")
        )
      )
      const abstract = chunks.find((c) => c.content.startsWith("Abstract"))!
      expect(abstract.content).toBe("Abstract\nWe study things. Things are interesting and we show why in detail.")
      expect(abstract.important_keywords).toContain("abstract")
      expect(chunks.slice(-3).map((c) => c.content)).toEqual([
        "1 Introduction\nThings matter.",
        "2 Method\nWe looked.",
        "3 Results\nWe saw."
      ])
    }))

  it.effect("presentation: one chunk per page", () =>
    Effect.gen(function*() {
      const chunks = yield* chunkWith(
        "presentation",
        doc(title("Welcome", 1, { page: 1 }), text("agenda", { page: 1 }), text("slide two", { page: 2 }), text("more two"), text("three", { page: 3 }))
      )
      expect(chunks.map((c) => [c.content, c.page_num])).toEqual([
        ["Welcome\nagenda", [1]],
        ["slide two\nmore two", [2]],
        ["three", [3]]
      ])
    }))

  it.effect("one: the whole document is one chunk", () =>
    Effect.gen(function*() {
      const chunks = yield* chunkWith(
        "one",
        doc(title("T", 1, { page: 1 }), text(wordsLine(600), { page: 1 }), table([["a"], ["b"]], { page: 2 }))
      )
      expect(chunks).toHaveLength(1)
      expect(chunks[0]!.content).toBe(`T\n${wordsLine(600)}\n<table><tr><th>a</th></tr><tr><td>b</td></tr></table>`)
      expect(chunks[0]!.page_num).toEqual([1, 2])
    }))

  it.effect("picture: one chunk per image with text, image attached", () =>
    Effect.gen(function*() {
      const chunks = yield* chunkWith(
        "picture",
        doc({ kind: "image", text: "STOP", image: { blobKey: "k1", mime: "image/png" } }, { kind: "image", text: "", image: { blobKey: "k2" } })
      )
      expect(chunks).toEqual([{ content: "STOP", page_num: [], positions: [], image: { blobKey: "k1", mime: "image/png" } }])
    }))

  it.effect("email: headers and body first, then the attachments", () =>
    Effect.gen(function*() {
      const got = yield* contents("email", {
        sections: [text("Hello team,\nthe report is attached."), title("Attachment: report.txt"), text("Quarterly numbers.")],
        metadata: {
          headers: { from: "ann@example.com", to: ["bob@example.com", "cy@example.com"], subject: "Report" },
          attachments: [{ name: "notes.txt", sections: [text("Side notes.")] }]
        }
      })
      expect(got).toEqual([
        "From: ann@example.com\nTo: bob@example.com, cy@example.com\nSubject: Report\nHello team,\nthe report is attached.",
        "Attachment: report.txt\nQuarterly numbers.",
        "Side notes."
      ])
      // Headers already in the first section are not repeated.
      const inline = yield* contents("email", { sections: [text("From: a@b.c\nSubject: Hi"), text("Body.")], metadata: { subject: "Hi" } })
      expect(inline).toEqual(["From: a@b.c\nSubject: Hi\nBody."])
      // The shape EmlParser produces: subject title, header lines, body, then titled attachments.
      const eml = yield* contents("email", {
        sections: [title("Hi", 1), text("From: a@b.c\nTo: d@e.f\nSubject: Hi"), text("Body."), title("Attachment: x.txt", 2), text("X.")],
        metadata: { from: "a@b.c", to: "d@e.f", subject: "Hi", attachments: ["x.txt"] }
      })
      expect(eml).toEqual(["Hi\nFrom: a@b.c\nTo: d@e.f\nSubject: Hi\nBody.", "Attachment: x.txt\nX."])
    }))

  it.effect("tag: the description is the content, the tags its important keywords", () =>
    Effect.gen(function*() {
      const chunks = yield* chunkWith(
        "tag",
        doc(table([["Description", "Tags"], ["Cats purr when content.", "animal, cat，pet.care"], ["no tags", ""]]))
      )
      expect(chunks.map((c) => [c.content, c.important_keywords])).toEqual([["Cats purr when content.", ["animal", "cat", "pet_care"]]])
      const fromText = yield* chunkWith("tag", doc(text("Dogs bark.\tanimal,dog\nPlain line\nFish swim.\tanimal")))
      expect(fromText.map((c) => [c.content, c.important_keywords])).toEqual([
        ["Dogs bark.", ["animal", "dog"]],
        ["Plain line\nFish swim.", ["animal"]]
      ])
    }))
})
