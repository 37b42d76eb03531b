import { describe, expect, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { get_encoding } from "tiktoken"
import { porterStem } from "../src/text/internal/porter.js"
import * as Rag from "../src/text/internal/ragTokenizer.js"
import { cachedTokenCounter } from "../src/text/internal/tokenCount.js"
import * as Tokenizer from "../src/text/Tokenizer.js"

const tokensOf = (text: string) => text.split(" ")

// Porter (NLTK_EXTENSIONS, NLTK's default and what RAGFlow uses): the examples of Porter's paper
// and of NLTK's documented extensions.
const PORTER: ReadonlyArray<readonly [string, string]> = [
  ["caresses", "caress"], ["ponies", "poni"], ["ties", "tie"], ["caress", "caress"], ["cats", "cat"],
  ["feed", "feed"], ["agreed", "agre"], ["plastered", "plaster"], ["bled", "bled"], ["motoring", "motor"],
  ["sing", "sing"], ["conflated", "conflat"], ["troubled", "troubl"], ["sized", "size"], ["hopping", "hop"],
  ["tanned", "tan"], ["falling", "fall"], ["hissing", "hiss"], ["fizzed", "fizz"], ["failing", "fail"],
  ["filing", "file"], ["happy", "happi"], ["sky", "sky"], ["skies", "sky"], ["relational", "relat"],
  ["conditional", "condit"], ["rational", "ration"], ["valenci", "valenc"], ["hesitanci", "hesit"],
  ["digitizer", "digit"], ["radicalli", "radic"], ["differentli", "differ"], ["analogousli", "analog"],
  ["vietnamization", "vietnam"], ["predication", "predic"], ["operator", "oper"], ["feudalism", "feudal"],
  ["decisiveness", "decis"], ["hopefulness", "hope"], ["callousness", "callous"], ["formaliti", "formal"],
  ["sensitiviti", "sensit"], ["sensibiliti", "sensibl"], ["triplicate", "triplic"], ["formative", "form"],
  ["formalize", "formal"], ["electriciti", "electr"], ["electrical", "electr"], ["hopeful", "hope"],
  ["goodness", "good"], ["revival", "reviv"], ["allowance", "allow"], ["inference", "infer"],
  ["airliner", "airlin"], ["gyroscopic", "gyroscop"], ["adjustable", "adjust"], ["defensible", "defens"],
  ["irritant", "irrit"], ["replacement", "replac"], ["adjustment", "adjust"], ["dependent", "depend"],
  ["adoption", "adopt"], ["communism", "commun"], ["activate", "activ"], ["angulariti", "angular"],
  ["homologous", "homolog"], ["effective", "effect"], ["bowdlerize", "bowdler"], ["probate", "probat"],
  ["rate", "rate"], ["cease", "ceas"], ["controlling", "control"], ["roll", "roll"],
  ["generalization", "gener"], ["running", "run"], ["studies", "studi"], ["quickly", "quickli"],
  ["runners", "runner"], ["dying", "die"], ["lying", "lie"], ["news", "news"], ["enjoy", "enjoy"],
  ["dies", "die"], ["spied", "spi"], ["died", "die"], ["generously", "gener"], ["meetings", "meet"],
  ["matting", "mat"], ["mating", "mate"], ["meeting", "meet"], ["milling", "mill"], ["messing", "mess"],
  ["database", "databas"], ["the", "the"], ["was", "wa"], ["this", "thi"], ["is", "is"], ["geology", "geolog"]
]

describe("Porter stemmer", () => {
  it(`stems ${PORTER.length} known words as NLTK's PorterStemmer does`, () => {
    expect(PORTER.length).toBeGreaterThanOrEqual(60)
    const wrong = PORTER.filter(([word, stemmed]) => porterStem(word) !== stemmed)
      .map(([word, stemmed]) => `${word}: ${porterStem(word)} (expected ${stemmed})`)
    expect(wrong).toEqual([])
  })

  it("`stem` runs Porter to its fixed point, so stemming a stem changes nothing", () => {
    expect(Tokenizer.stem("database")).toBe("databa")
    expect(Tokenizer.stem("agreed")).toBe("agr")
    expect(Tokenizer.stem("running")).toBe("run")
    for (const [word] of PORTER) {
      const once = Tokenizer.stem(word)
      expect(Tokenizer.stem(once)).toBe(once)
    }
  })
})

describe("token counter", () => {
  it("counts exactly as encoding the whole text does, piece by piece with a cache", () => {
    const encoder = get_encoding("cl100k_base")
    try {
      const count = cachedTokenCounter((piece) => encoder.encode_ordinary(piece).length, 50)
      const samples = [
        "Hello, world! It's 2024; we'll see: they're here, I'VE been, you'd think.\n\n\n  Indented\tcode();",
        "def f(x):\n    return x ** 2  # square\r\n\r\n\n    \n",
        "我爱北京天安门。中华人民共和国成立于1949年！ＡＢＣ１２３　全角",
        "emoji 😀👍🏽 and marks x\u0308 e\u0301 ॐ 𝔘𝔫𝔦 \u0085NEL\ufeffBOM\u00a0nbsp\u2028ls",
        "numbers 1234567 ٣٣٣٣ ½ ² Ⅻ 3.14159 1,000,000",
        "<|endoftext|> <|fim_prefix|> 'ſa 'S 'LL 're 'x ' trailing   ",
        "   leading spaces   and   runs   of   spaces   \n\t \n"
      ]
      for (const text of [...samples, samples.join(" "), samples.join("\n").repeat(3)]) {
        expect(count(text)).toBe(encoder.encode_ordinary(text).length)
      }
    } finally {
      encoder.free()
    }
  })
})

layer(Tokenizer.layer)("Tokenizer", (it) => {
  it.effect("counts cl100k_base tokens", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      expect(tokenizer.countTokens("")).toBe(0)
      expect(tokenizer.countTokens("hello world")).toBe(2)
      expect(tokenizer.countTokens("Hello, world!")).toBe(4)
      expect(tokenizer.countTokens("tiktoken is great!")).toBe(6)
      // cached pieces give the same answer the second time
      expect(tokenizer.countTokens("tiktoken is great!")).toBe(6)
    }))

  it.effect("counts special-token text as ordinary text instead of throwing", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      expect(tokenizer.countTokens("<|endoftext|>")).toBeGreaterThan(1)
      expect(tokenizer.countTokens("a <|endoftext|> b")).toBe(tokenizer.countTokens("a <|endoftext|> b"))
    }))

  it.effect("tokenizes English: lower-case, punctuation removed, Porter-stemmed", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      const tokens = tokenizer.tokenize("The runners were RUNNING quickly, weren't they?")
      expect(tokens).toBe("the runner were run quickli weren t they")
      expect(tokensOf(tokens)).toEqual(expect.arrayContaining(["runner", "run", "quickli"]))
      expect(tokenizer.tokenize("covid-19 snake_case e-mail (v2.0) \"quoted\"")).toBe(
        "covid 19 snake case e mail v2 0 quot"
      )
    }))

  it.effect("keeps numbers and non-English words as they are", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      expect(tokenizer.tokenize("In 2024, 3.14 and 1000 apples")).toBe("in 2024 3 14 and 1000 appl")
      expect(tokenizer.tokenize("Café NAÏVE Straße")).toBe("café naïve straße")
    }))

  it.effect("segments Chinese with jieba", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      const tokens = tokensOf(tokenizer.tokenize("我爱北京天安门"))
      expect(tokens).toEqual(expect.arrayContaining(["北京", "天安门"]))
      expect(tokens.join("")).toBe("我爱北京天安门")
      expect(tokensOf(tokenizer.tokenize("南京市长江大桥，数据分析项目经理。"))).toEqual(
        expect.arrayContaining(["南京市", "长江大桥", "数据分析", "项目经理"])
      )
    }))

  it.effect("tokenizes mixed Chinese and English text", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      const tokens = tokensOf(tokenizer.tokenize("我用Python写代码"))
      expect(tokens).toContain("python")
      expect(tokens).toContain("代码")
      expect(tokensOf(tokenizer.tokenize("我们正在Testing新的Databases"))).toEqual(
        expect.arrayContaining(["test", "databa", "我们"])
      )
    }))

  it.effect("folds full-width letters, digits and punctuation", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      expect(tokenizer.tokenize("ＡＢＣ１２３")).toBe("abc123")
      expect(tokenizer.tokenize("Ｈｅｌｌｏ，　ｗｏｒｌｄ！")).toBe("hello world")
      expect(Tokenizer.strQ2B("ＡＢＣ　１２３！")).toBe("ABC 123!")
    }))

  it.effect("separates tokens by single spaces, with no empty tokens", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      expect(tokenizer.tokenize("")).toBe("")
      expect(tokenizer.tokenize("  ... !!! —— 。，  ")).toBe("")
      const tokens = tokenizer.tokenize("  Hello,\n\n  world!!  我爱北京 -- 😀 ok  ")
      expect(tokens).toBe("hello world 我 爱 北京 ok")
      expect(tokensOf(tokens).every((token) => token.length > 0)).toBe(true)
    }))

  it.effect("splits long Chinese tokens into their sub-words", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      const fine = tokensOf(tokenizer.fineTokenize(tokenizer.tokenize("中华人民共和国")))
      expect(fine).toEqual(expect.arrayContaining(["中华", "人民", "共和国"]))
      expect(fine).not.toContain("中华人民共和国")
      // every character stays covered
      expect(tokenizer.fineTokenize("天安门")).toBe("天安 门")
      expect(tokenizer.fineTokenize("南京市 长江大桥")).toBe("南京 京市 长江 大桥")
      // short tokens and English words are kept
      expect(tokenizer.fineTokenize("北京 我 runner quickli")).toBe("北京 我 runner quickli")
    }))

  it.effect("splits letters from digits in fine tokens", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      expect(tokenizer.fineTokenize("abc123 unity3d 2024 mp3s")).toBe("abc 123 uniti 3 d 2024 mp 3 s")
      expect(tokenizer.fineTokenize(tokenizer.tokenize("ＡＢＣ１２３"))).toBe("abc 123")
    }))

  it.effect("is idempotent, so re-tokenized text still matches", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      const texts = [
        "The relational databases agreed on generalization; conditional hopefulness, happily running.",
        "Licensed under the Apache License, Version 2.0: you may not use this file except in compliance.",
        "我用Python写代码, 南京市长江大桥 and Unity3D games"
      ]
      for (const text of texts) {
        const once = tokenizer.tokenize(text)
        expect(tokenizer.tokenize(once)).toBe(once)
      }
    }))

  it.effect("gives a query and a chunk that share words the same tokens", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.Tokenizer
      const chunk = new Set(tokensOf(tokenizer.tokenize("The database servers were running relational queries.")))
      for (const token of tokensOf(tokenizer.tokenize("Running a relational DATABASE server"))) {
        if (token !== "a") expect(chunk).toContain(token)
      }
    }))
})

describe("fineTokenize", () => {
  it("reads tokens in place exactly as splitting them on white space does", () => {
    // A segmenter with the contract's shape: search-mode words are the 2-character windows.
    const segmenter: Rag.Segmenter = {
      cut: (text) => [text],
      cutForSearch: (text) => Array.from({ length: text.length - 1 }, (_, i) => text.slice(i, i + 2))
    }
    const stem = Rag.cachedStemmer(porterStem, 1_000)
    const alphabet = ["a", "b", "s", "ing", "1", "2", "中", "华", "人", " ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "_"]
    let seed = 11
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed % n
    }
    let same = 0
    for (let round = 0; round < 5_000; round++) {
      const text = Array.from({ length: rand(12) }, () => alphabet[rand(alphabet.length)]).join("")
      const fine = Rag.fineTokenize(segmenter, stem, text)
      expect(fine).toBe(Rag.fineTokenizeBySplit(segmenter, stem, text))
      if (fine === text) same++
    }
    // Both paths ran: inputs left as they are, and inputs split or re-spaced.
    expect(same).toBeGreaterThan(200)
    expect(same).toBeLessThan(4_800)
  })
})

describe("Tokenizer.layer", () => {
  it.effect("frees the tiktoken encoder when the layer is released", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Effect.scoped(Tokenizer.make)
      expect(() => tokenizer.countTokens("a piece never counted before: qwxzv")).toThrow()
    }))
})
