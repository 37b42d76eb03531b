/**
 * The extractive answerer's (`extractive@Builtin`) answer accuracy on a question set with known
 * answers.
 *
 *   npx tsx bench/internal/extractiveQa.ts          prints the table; `bench/chat.ts` calls `runExtractiveQa`
 *
 * The set ("ragkit factual QA with distractors", written for this bench; no public extractive QA
 * set such as SQuAD is available offline here, and SciFact's claims have no answers to quote):
 * 10 topics of 4 passages each (8 English, 2 Chinese), every passage 3 to 5 sentences of facts
 * about one subject, the topic's passages being each other's distractors (same vocabulary: four
 * planets, four rivers, four policies of one company handbook, ...); 82 questions (67 English,
 * 15 Chinese), each answered by one sentence of one passage, its known answer a short span of
 * that sentence ("Olympus Mons", "25 days", "1974年"). Questions are worded as a user would ask
 * them, not copied from the sentence ("When must a lost laptop be reported?" for "Lost or stolen
 * devices must be reported to the IT service desk within 24 hours."), but most share their key
 * words with it: the set measures picking the right sentence among near neighbours, not
 * paraphrase (which a quoting answerer cannot bridge). It was written by the answerer's author,
 * before the answerer was first run on it; read the figure as an upper bound for factoid questions.
 *
 * Each question is answered as a completion would ask: the grounding holds the topic's four
 * passages plus the first passage of the next two topics (six passages, as a dialog's top_n
 * would give), in an order rotated per question so that the passage holding the answer is at
 * rank 0, 1, 2 or 3 in turn (retrieval is not always right about the best passage); passage ids
 * are the ranks, as `Completions` numbers its references.
 *
 * Scores, per question:
 * - correct: a quote of the answer contains the known answer and is cited `[ID:n]` with the
 *   passage that holds it (text compared lower-cased, spaces collapsed);
 * - cited: the answer cites the passage holding the answer at all;
 * - best: the answerer's best-scored sentence is the one holding the answer.
 * The baseline "lead" quotes the first two sentences of the top-ranked passage, as a naive
 * extractive answerer would (the answer passage is at rank 0 for a quarter of the questions).
 *
 * A second, external check on BEIR SciFact (test split, ../shared/datasets/scifact, when present):
 * its claims are not questions and have no answer span, so it measures citations only. Each of
 * the 300 claims is grounded on six abstracts: its relevant abstract(s) and the BM25 nearest others
 * (the index's tokens; Lucene's IDF, k1 1.2, b 0.75), in BM25 order as retrieval would rank them.
 * Scores: the answer's best-scored sentence is from a relevant abstract; the answer's first
 * citation is; and, for comparison, the top-ranked of the six is (what quoting by rank alone gives).
 */
import { ExtractiveAnswerer } from "@ragkit/adapters/builtin"
import { type ChatModel, Tokenizer } from "@ragkit/core"
import { Effect } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"

export interface QaTopic {
  readonly name: string
  readonly passages: ReadonlyArray<{ readonly title: string; readonly content: string }>
  /** `[question, known answer, index of the passage that holds it]` */
  readonly questions: ReadonlyArray<readonly [string, string, number]>
}

/** The question set: "ragkit factual QA with distractors" (see the module's comment). */
export const ExtractiveQaSet: ReadonlyArray<QaTopic> = [
  {
    name: "planets",
    passages: [
      {
        title: "Mars",
        content:
          "Mars is the fourth planet from the Sun. It is often called the Red Planet because iron oxide on its surface gives it a reddish appearance. Mars has two small moons, Phobos and Deimos. Olympus Mons, a shield volcano on Mars, is the tallest known volcano in the Solar System. A day on Mars lasts about 24.6 hours."
      },
      {
        title: "Jupiter",
        content:
          "Jupiter is the fifth planet from the Sun and the largest in the Solar System. It is a gas giant composed mainly of hydrogen and helium. The Great Red Spot is a giant storm on Jupiter that has lasted for centuries. Jupiter has 95 officially recognized moons. Its four largest moons were discovered by Galileo Galilei in 1610."
      },
      {
        title: "Saturn",
        content:
          "Saturn is the sixth planet from the Sun. It is best known for its prominent ring system, made mostly of ice particles with some rocky debris. Saturn's largest moon, Titan, has a thick atmosphere rich in nitrogen. Saturn is the least dense planet; its average density is lower than that of water. The Cassini spacecraft orbited Saturn from 2004 to 2017."
      },
      {
        title: "Venus",
        content:
          "Venus is the second planet from the Sun. It is the hottest planet in the Solar System, with surface temperatures around 465 degrees Celsius. Its thick atmosphere is composed mostly of carbon dioxide. Venus rotates in the opposite direction to most planets. A day on Venus is longer than its year."
      }
    ],
    questions: [
      ["Why is Mars called the Red Planet?", "iron oxide", 0],
      ["What is the tallest known volcano in the Solar System?", "Olympus Mons", 0],
      ["How long is a day on Mars?", "24.6 hours", 0],
      ["How many moons does Jupiter have?", "95", 1],
      ["Who discovered Jupiter's four largest moons?", "Galileo Galilei", 1],
      ["What are Saturn's rings made of?", "ice particles", 2],
      ["When did the Cassini spacecraft orbit Saturn?", "2004 to 2017", 2],
      ["How hot is the surface of Venus?", "465 degrees Celsius", 3],
      ["What is the atmosphere of Venus mostly made of?", "carbon dioxide", 3]
    ]
  },
  {
    name: "programming languages",
    passages: [
      {
        title: "Python",
        content:
          "Python is a high-level programming language created by Guido van Rossum. It was first released in 1991. Python uses indentation to delimit code blocks instead of curly braces. Its package index, PyPI, hosts hundreds of thousands of libraries. Python 2 reached its end of life in January 2020."
      },
      {
        title: "JavaScript",
        content:
          "JavaScript was created by Brendan Eich at Netscape in 1995. The first version was written in just ten days. JavaScript is standardized as ECMAScript by Ecma International. Node.js lets JavaScript run outside the browser on the V8 engine. Most web pages use JavaScript for client-side behaviour."
      },
      {
        title: "Rust",
        content:
          "Rust is a systems programming language focused on memory safety without garbage collection. Its ownership model and borrow checker prevent data races at compile time. Rust began as a personal project of Graydon Hoare at Mozilla. Version 1.0 was released in May 2015. Cargo is the package manager and build tool of Rust."
      },
      {
        title: "Go",
        content:
          "Go is a statically typed language designed at Google by Robert Griesemer, Rob Pike and Ken Thompson. It was announced in 2009. Go has goroutines, lightweight threads managed by the Go runtime. Channels let goroutines communicate safely. Go compiles to a single static binary by default."
      }
    ],
    questions: [
      ["Who created Python?", "Guido van Rossum", 0],
      ["How does Python delimit code blocks?", "indentation", 0],
      ["When did Python 2 reach its end of life?", "January 2020", 0],
      ["How long did it take to write the first version of JavaScript?", "ten days", 1],
      ["Under what name is JavaScript standardized?", "ECMAScript", 1],
      ["What prevents data races in Rust?", "borrow checker", 2],
      ["When was Rust 1.0 released?", "May 2015", 2],
      ["What is Rust's package manager called?", "Cargo", 2],
      ["Who designed the Go language?", "Robert Griesemer, Rob Pike and Ken Thompson", 3],
      ["How do goroutines communicate?", "Channels", 3]
    ]
  },
  {
    name: "rivers",
    passages: [
      {
        title: "Nile",
        content:
          "The Nile is a major north-flowing river in northeastern Africa. It is about 6,650 kilometres long and is often regarded as the longest river in the world. The Nile has two major tributaries, the White Nile and the Blue Nile. The two meet near Khartoum, the capital of Sudan. The river empties into the Mediterranean Sea."
      },
      {
        title: "Amazon",
        content:
          "The Amazon River in South America is the largest river by discharge volume of water in the world. It flows through Peru, Colombia and Brazil. The Amazon basin covers about seven million square kilometres. No bridge crosses the main river along its entire length."
      },
      {
        title: "Danube",
        content:
          "The Danube is the second-longest river in Europe, after the Volga. It rises in the Black Forest in Germany and flows into the Black Sea. The Danube passes through four capital cities: Vienna, Bratislava, Budapest and Belgrade. It was once a long-standing frontier of the Roman Empire."
      },
      {
        title: "Mississippi",
        content:
          "The Mississippi River is the second-longest river in North America. It rises at Lake Itasca in Minnesota. The river flows south for about 3,770 kilometres to the Gulf of Mexico. Mark Twain wrote about life on the Mississippi as a steamboat pilot."
      }
    ],
    questions: [
      ["How long is the Nile?", "6,650 kilometres", 0],
      ["Where do the White Nile and the Blue Nile meet?", "Khartoum", 0],
      ["Which river carries the most water?", "largest river by discharge volume", 1],
      ["Does any bridge cross the Amazon?", "No bridge crosses", 1],
      ["Which capital cities does the Danube flow through?", "Vienna, Bratislava, Budapest and Belgrade", 2],
      ["Where is the source of the Danube?", "Black Forest", 2],
      ["What is the longest river in Europe?", "Volga", 2],
      ["Where does the Mississippi River begin?", "Lake Itasca", 3]
    ]
  },
  {
    name: "scientists",
    passages: [
      {
        title: "Marie Curie",
        content:
          "Marie Curie was a Polish-born physicist and chemist who worked in France. She was the first woman to win a Nobel Prize. She won the Nobel Prize in Physics in 1903 and the Nobel Prize in Chemistry in 1911. Together with Pierre Curie she discovered the elements polonium and radium."
      },
      {
        title: "Isaac Newton",
        content:
          "Isaac Newton was an English mathematician and physicist. His book Principia Mathematica, published in 1687, set out the laws of motion and universal gravitation. Newton built the first practical reflecting telescope. He also developed calculus independently of Gottfried Wilhelm Leibniz."
      },
      {
        title: "Charles Darwin",
        content:
          "Charles Darwin was an English naturalist. He sailed around the world on HMS Beagle between 1831 and 1836. His observations in the Galápagos Islands shaped his ideas about natural selection. On the Origin of Species was published in 1859."
      },
      {
        title: "Albert Einstein",
        content:
          "Albert Einstein was a German-born theoretical physicist. He developed the theory of relativity. He received the 1921 Nobel Prize in Physics for his explanation of the photoelectric effect. Einstein emigrated to the United States in 1933 and worked at the Institute for Advanced Study in Princeton."
      }
    ],
    questions: [
      ["Which elements did Marie Curie discover?", "polonium and radium", 0],
      ["In which year did Marie Curie win the Nobel Prize in Chemistry?", "1911", 0],
      ["When was Principia Mathematica published?", "1687", 1],
      ["Who developed calculus independently of Newton?", "Leibniz", 1],
      ["On which ship did Darwin sail around the world?", "HMS Beagle", 2],
      ["When was On the Origin of Species published?", "1859", 2],
      ["What did Einstein receive the Nobel Prize for?", "photoelectric effect", 3],
      ["When did Einstein move to the United States?", "1933", 3]
    ]
  },
  {
    name: "company handbook",
    passages: [
      {
        title: "Handbook - Annual leave",
        content:
          "Full-time employees receive 25 days of paid annual leave per calendar year. Up to five unused days may be carried over to the next year. Carried-over days expire on 31 March. Leave requests must be submitted in the HR portal at least two weeks in advance."
      },
      {
        title: "Handbook - Expenses",
        content:
          "Employees are reimbursed for reasonable business expenses. Receipts must be submitted within 30 days of the expense. Meals while travelling are reimbursed up to 60 euros per day. Flights longer than six hours may be booked in premium economy. Expense claims above 1,000 euros need approval from a director."
      },
      {
        title: "Handbook - Information security",
        content:
          "All laptops must use full-disk encryption. Passwords must be at least 14 characters long and are never shared. Multi-factor authentication is required for email and the VPN. Lost or stolen devices must be reported to the IT service desk within 24 hours."
      },
      {
        title: "Handbook - Remote work",
        content:
          "Employees may work remotely up to three days per week. Core hours are 10:00 to 15:00 in the employee's local time zone. The company pays a one-time home office allowance of 500 euros. Working from another country requires approval from HR for stays longer than 30 days."
      }
    ],
    questions: [
      ["How many days of paid leave do full-time employees get per year?", "25 days", 0],
      ["When do carried-over leave days expire?", "31 March", 0],
      ["How far in advance must leave be requested?", "at least two weeks", 0],
      ["How much is reimbursed for meals on a business trip?", "60 euros per day", 1],
      ["Who has to approve an expense claim of 1,500 euros?", "approval from a director", 1],
      ["How long must passwords be?", "at least 14 characters", 2],
      ["When must a lost laptop be reported?", "within 24 hours", 2],
      ["How many days a week can I work from home?", "three days per week", 3],
      ["What are the core hours?", "10:00 to 15:00", 3],
      ["How much is the home office allowance?", "500 euros", 3]
    ]
  },
  {
    name: "human body",
    passages: [
      {
        title: "The heart",
        content:
          "The human heart has four chambers: two atria and two ventricles. It beats about 100,000 times a day. The left ventricle pumps oxygen-rich blood into the aorta, the largest artery of the body. A resting adult heart rate is normally between 60 and 100 beats per minute."
      },
      {
        title: "The lungs",
        content:
          "The lungs are the main organs of the respiratory system. Gas exchange takes place in tiny air sacs called alveoli. The right lung has three lobes while the left lung has two. An adult at rest breathes about 12 to 20 times per minute."
      },
      {
        title: "The liver",
        content:
          "The liver is the largest internal organ of the human body. It produces bile, which helps digest fats. The liver can regenerate after part of it has been removed. It also stores glycogen and filters toxins from the blood."
      },
      {
        title: "The skeleton",
        content:
          "The adult human skeleton has 206 bones. The femur, in the thigh, is the longest bone. The smallest bone is the stapes, in the middle ear. Bone marrow inside larger bones produces red blood cells."
      }
    ],
    questions: [
      ["How many chambers does the human heart have?", "four chambers", 0],
      ["What is the largest artery in the body?", "aorta", 0],
      ["What is a normal resting heart rate?", "between 60 and 100 beats per minute", 0],
      ["Where does gas exchange happen in the lungs?", "alveoli", 1],
      ["How many lobes does the left lung have?", "the left lung has two", 1],
      ["What does bile help to digest?", "fats", 2],
      ["How many bones are in the adult human skeleton?", "206", 3],
      ["What is the smallest bone in the human body?", "stapes", 3]
    ]
  },
  {
    name: "中国城市",
    passages: [
      {
        title: "北京",
        content: "北京是中华人民共和国的首都，也是全国的政治和文化中心。北京有三千多年的建城史。故宫位于北京市中心，是明清两代的皇宫。2008年夏季奥运会在北京举行。"
      },
      {
        title: "上海",
        content: "上海位于长江入海口，是中国最大的经济中心城市。上海港的集装箱吞吐量多年位居世界第一。东方明珠广播电视塔高约468米，于1994年建成。"
      },
      {
        title: "西安",
        content: "西安古称长安，是十三朝古都。秦始皇兵马俑位于西安市临潼区，于1974年被发现。西安是古代丝绸之路的起点。大雁塔始建于唐代，用于保存玄奘从印度带回的经书。"
      },
      {
        title: "杭州",
        content: "杭州是浙江省的省会。西湖位于杭州市西部，2011年被列入世界遗产名录。龙井茶产于西湖周边的山区。京杭大运河的南端就在杭州。"
      }
    ],
    questions: [
      ["哪一年夏季奥运会在北京举行？", "2008年", 0],
      ["故宫是哪两个朝代的皇宫？", "明清两代", 0],
      ["东方明珠塔有多高？", "468米", 1],
      ["兵马俑是哪一年被发现的？", "1974年", 2],
      ["大雁塔是用来保存什么的？", "玄奘从印度带回的经书", 2],
      ["西湖是哪一年被列入世界遗产名录的？", "2011年", 3],
      ["龙井茶产自哪里？", "西湖周边的山区", 3],
      ["京杭大运河的南端在哪里？", "杭州", 3]
    ]
  },
  {
    name: "中国山河",
    passages: [
      {
        title: "长江",
        content: "长江是中国第一长河，全长约6300公里。长江发源于青藏高原的唐古拉山脉。三峡大坝位于湖北省宜昌市，是世界上装机容量最大的水电站。长江最终注入东海。"
      },
      {
        title: "黄河",
        content: "黄河是中国第二长河，全长约5464公里。黄河因携带大量泥沙而呈黄色。黄河流域是中华文明的重要发祥地。黄河在山东省注入渤海。"
      },
      {
        title: "珠穆朗玛峰",
        content: "珠穆朗玛峰是世界最高峰，海拔8848.86米。它位于中国和尼泊尔的边界上。1960年中国登山队首次从北坡登顶珠峰。"
      },
      {
        title: "泰山",
        content: "泰山位于山东省中部，主峰玉皇顶海拔1545米。泰山被称为五岳之首。古代帝王常在泰山举行封禅大典。"
      }
    ],
    questions: [
      ["长江全长多少公里？", "6300公里", 0],
      ["三峡大坝在哪里？", "湖北省宜昌市", 0],
      ["黄河为什么是黄色的？", "携带大量泥沙", 1],
      ["黄河流入哪个海？", "渤海", 1],
      ["珠穆朗玛峰海拔多少米？", "8848.86米", 2],
      ["中国登山队哪一年首次从北坡登顶珠峰？", "1960年", 2],
      ["泰山主峰有多高？", "1545米", 3]
    ]
  },
  {
    name: "inventions",
    passages: [
      {
        title: "Printing press",
        content:
          "Johannes Gutenberg introduced printing with movable metal type in Europe around 1440. His workshop was in Mainz, Germany. The Gutenberg Bible, printed in the 1450s, was the first major book printed with movable type in Europe. Printing made books far cheaper and spread literacy."
      },
      {
        title: "Telephone",
        content:
          "Alexander Graham Bell was granted the first United States patent for the telephone in 1876. The first words he spoke on it were addressed to his assistant, Thomas Watson. Bell later co-founded the company that became AT&T. Early telephones were connected by human operators at switchboards."
      },
      {
        title: "Light bulb",
        content:
          "Thomas Edison developed a practical incandescent light bulb in 1879. His most successful early filaments were made of carbonized bamboo. Edison's laboratory was in Menlo Park, New Jersey. Modern LED bulbs use far less energy than incandescent ones."
      },
      {
        title: "World Wide Web",
        content:
          "Tim Berners-Lee invented the World Wide Web in 1989 while working at CERN. He wrote the first web browser and the first web server. The first website went online in 1991. The web's pages are written in HTML and linked by URLs."
      }
    ],
    questions: [
      ["Where was Gutenberg's workshop?", "Mainz", 0],
      ["When did Gutenberg introduce movable type printing?", "around 1440", 0],
      ["Who was Bell's assistant?", "Thomas Watson", 1],
      ["When was the telephone patented?", "1876", 1],
      ["What were Edison's early filaments made of?", "carbonized bamboo", 2],
      ["Where was Edison's laboratory?", "Menlo Park", 2],
      ["Where was Tim Berners-Lee working when he invented the web?", "CERN", 3]
    ]
  },
  {
    name: "elements",
    passages: [
      {
        title: "Oxygen",
        content:
          "Oxygen is the chemical element with the symbol O and atomic number 8. It makes up about 21 percent of the Earth's atmosphere by volume. Oxygen was discovered independently by Carl Wilhelm Scheele and Joseph Priestley in the 1770s. Ozone is a form of oxygen with three atoms per molecule."
      },
      {
        title: "Iron",
        content:
          "Iron is the chemical element with the symbol Fe and atomic number 26. It is the most common element on Earth by mass, forming much of the outer and inner core. Steel is an alloy of iron and carbon. Iron rusts when it reacts with oxygen and water."
      },
      {
        title: "Gold",
        content:
          "Gold is the chemical element with the symbol Au, from the Latin word aurum. Its atomic number is 79. Gold is highly malleable: a single gram can be beaten into a sheet of about one square metre. Pure gold is 24 karat."
      },
      {
        title: "Helium",
        content:
          "Helium is the chemical element with the symbol He and atomic number 2. It was first detected in the spectrum of the Sun during a solar eclipse in 1868. Helium is the second most abundant element in the observable universe. Liquid helium is used to cool the magnets of MRI scanners."
      }
    ],
    questions: [
      ["What share of the atmosphere is oxygen?", "21 percent", 0],
      ["Who discovered oxygen?", "Carl Wilhelm Scheele and Joseph Priestley", 0],
      ["What is steel made of?", "alloy of iron and carbon", 1],
      ["What is the atomic number of gold?", "79", 2],
      ["Where does the symbol Au come from?", "aurum", 2],
      ["When was helium first detected?", "1868", 3],
      ["What is liquid helium used for?", "cool the magnets of MRI scanners", 3]
    ]
  }
]

export interface QaRow {
  readonly topic: string
  readonly question: string
  readonly known: string
  /** The id of the passage that holds the answer (its rank in the grounding). */
  readonly holder: number
  readonly language: ExtractiveAnswerer.Language
  readonly answer: string
  readonly correct: boolean
  readonly cited: boolean
  readonly best: boolean
  /** The lead baseline's verdict on the same question. */
  readonly leadCorrect: boolean
  readonly quotes: number
  /** Characters of the answer without the disclosure. */
  readonly chars: number
  readonly ms: number
}

export interface QaResult {
  readonly dataset: string
  readonly rows: ReadonlyArray<QaRow>
  readonly questions: number
  /** Share of questions answered correctly (the known answer quoted and cited to its passage). */
  readonly accuracy: number
  readonly byLanguage: Readonly<Record<ExtractiveAnswerer.Language, { readonly questions: number; readonly accuracy: number }>>
  /** Share of answers citing the passage that holds the answer. */
  readonly citedRate: number
  /** Share of questions whose best-scored sentence holds the answer. */
  readonly bestRate: number
  /** The lead baseline's accuracy. */
  readonly leadAccuracy: number
  readonly meanQuotes: number
  readonly meanChars: number
  readonly p50Ms: number
  readonly p95Ms: number
}

export const DatasetName = "ragkit factual QA with distractors (82 questions, 10 topics x 4 passages, English and Chinese)"

const normalize = (text: string): string => text.toLowerCase().replace(/\s+/g, " ").trim()

/** The quotes of an answer: each stretch of text before a `[ID:n]`, with `n`. */
export const citedQuotes = (answer: string): Array<{ readonly text: string; readonly id: number }> => {
  const out: Array<{ text: string; id: number }> = []
  let last = 0
  for (const match of answer.matchAll(/\[ID:(\d+)\]/g)) {
    out.push({ text: answer.slice(last, match.index), id: Number(match[1]) })
    last = match.index + match[0].length
  }
  return out
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!

/** The grounding of question `q` of topic `t`: the topic's passages and two of the next topics', rotated. */
const groundingOf = (t: number, q: number, holder: number): { passages: Array<ChatModel.ChatPassage>; holderRank: number } => {
  const topic = ExtractiveQaSet[t]!
  const others = [1, 2].map((k) => ExtractiveQaSet[(t + k) % ExtractiveQaSet.length]!.passages[0]!)
  // Put the holder at rank q mod 4: rotate the topic's passages.
  const rank = q % topic.passages.length
  const shift = (holder - rank + topic.passages.length) % topic.passages.length
  const own = topic.passages.map((_, i) => topic.passages[(i + shift) % topic.passages.length]!)
  const ordered = [...own, ...others]
  return { passages: ordered.map((p, id) => ({ id, title: p.title, content: p.content })), holderRank: rank }
}

/** Answers every question with `extractive@Builtin` and scores the answers. */
export const extractiveQa: Effect.Effect<QaResult, never, Tokenizer.Tokenizer> = Effect.gen(function*() {
  const tokenizer = yield* Tokenizer.Tokenizer
  const model = ExtractiveAnswerer.make(tokenizer)
  const scoreOf = ExtractiveAnswerer.answerWith(tokenizer)
  const rows: Array<QaRow> = []
  for (const [t, topic] of ExtractiveQaSet.entries()) {
    for (const [q, [question, known, holder]] of topic.questions.entries()) {
      const { holderRank, passages } = groundingOf(t, q, holder)
      const messages: ReadonlyArray<ChatModel.ChatMessage> = [
        { role: "system", content: "Answer from the knowledge base.\n" + passages.map((p) => `[ID:${p.id}] ${p.content}`).join("\n") },
        { role: "user", content: question }
      ]
      const started = performance.now()
      const { text } = yield* Effect.orDie(model.generate(messages, {}, { question, passages }))
      const ms = performance.now() - started
      const language = ExtractiveAnswerer.languageOf(question)
      const quotes = citedQuotes(text)
      const answers = (qs: ReadonlyArray<{ text: string; id: number }>) =>
        qs.some((quote) => quote.id === holderRank && normalize(quote.text).includes(normalize(known)))
      const scored = scoreOf(question, passages)
      const best = [...scored.quotes].sort((a, b) => b.score - a.score)[0]
      const lead = passages[0]!.content.split(/(?<=[.。？?！!])\s*/).slice(0, 2).join(" ")
      rows.push({
        topic: topic.name,
        question,
        known,
        holder: holderRank,
        language,
        answer: text,
        correct: answers(quotes),
        cited: quotes.some((quote) => quote.id === holderRank),
        best: best !== undefined && best.passageId === holderRank && normalize(best.text).includes(normalize(known)),
        leadCorrect: answers([{ text: lead, id: passages[0]!.id }]),
        quotes: quotes.length,
        chars: text.length - ExtractiveAnswerer.Disclosure[language].length,
        ms
      })
    }
  }
  const share = (xs: ReadonlyArray<QaRow>, f: (row: QaRow) => boolean) => (xs.length === 0 ? 0 : xs.filter(f).length / xs.length)
  const mean = (f: (row: QaRow) => number) => rows.reduce((s, r) => s + f(r), 0) / rows.length
  const times = rows.map((r) => r.ms).sort((a, b) => a - b)
  const language = (l: ExtractiveAnswerer.Language) => {
    const of = rows.filter((r) => r.language === l)
    return { questions: of.length, accuracy: share(of, (r) => r.correct) }
  }
  return {
    dataset: DatasetName,
    rows,
    questions: rows.length,
    accuracy: share(rows, (r) => r.correct),
    byLanguage: { en: language("en"), zh: language("zh") },
    citedRate: share(rows, (r) => r.cited),
    bestRate: share(rows, (r) => r.best),
    leadAccuracy: share(rows, (r) => r.leadCorrect),
    meanQuotes: mean((r) => r.quotes),
    meanChars: mean((r) => r.chars),
    p50Ms: percentile(times, 0.5),
    p95Ms: percentile(times, 0.95)
  }
})

// ---------------------------------------------------------------------------------------------
// SciFact citations

export interface SciFactCitations {
  readonly claims: number
  /** Share of claims whose best-scored quoted sentence is from a relevant abstract. */
  readonly bestRelevant: number
  /** Share of answers whose first citation is a relevant abstract. */
  readonly firstCitedRelevant: number
  /** Share of claims whose top-ranked abstract (of the six) is relevant: citing by rank alone. */
  readonly rankOnly: number
}

const scifactDir = fileURLToPath(new URL("../../../shared/datasets/scifact/", import.meta.url))

/** Citations on SciFact's test claims, or `undefined` when the dataset is not there. */
export const scifactCitations: Effect.Effect<SciFactCitations | undefined, never, Tokenizer.Tokenizer> = Effect.gen(function*() {
  if (!existsSync(join(scifactDir, "corpus.jsonl"))) return undefined
  const tokenizer = yield* Tokenizer.Tokenizer
  const readJsonl = <A>(file: string): Array<A> =>
    readFileSync(join(scifactDir, file), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as A)
  const corpus = readJsonl<{ _id: string; title: string; text: string }>("corpus.jsonl")
  const claims = new Map(readJsonl<{ _id: string; text: string }>("queries.jsonl").map((q) => [q._id, q.text]))
  const relevant = new Map<string, Set<string>>()
  for (const line of readFileSync(join(scifactDir, "qrels/test.tsv"), "utf8").split("\n").slice(1)) {
    const [claim, doc] = line.split("\t")
    if (claim === undefined || doc === undefined || claim.trim() === "") continue
    relevant.set(claim, (relevant.get(claim) ?? new Set()).add(doc))
  }
  // BM25 over the abstracts, on the index's tokens.
  const docs = corpus.map((d) => {
    const tf = new Map<string, number>()
    const tokens = tokenizer.tokenize(`${d.title} ${d.text}`).split(" ").filter((t) => t !== "")
    for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1)
    return { id: d._id, doc: d, tf, length: tokens.length }
  })
  const df = new Map<string, number>()
  for (const d of docs) for (const t of d.tf.keys()) df.set(t, (df.get(t) ?? 0) + 1)
  const avg = docs.reduce((s, d) => s + d.length, 0) / docs.length
  const bm25 = (query: ReadonlyArray<string>, d: (typeof docs)[number]) =>
    query.reduce((s, t) => {
      const f = d.tf.get(t) ?? 0
      if (f === 0) return s
      const idf = Math.log(1 + (docs.length - df.get(t)! + 0.5) / (df.get(t)! + 0.5))
      return s + (idf * f * 2.2) / (f + 1.2 * (0.25 + (0.75 * d.length) / avg))
    }, 0)

  const model = ExtractiveAnswerer.make(tokenizer)
  const scoreOf = ExtractiveAnswerer.answerWith(tokenizer)
  let best = 0
  let first = 0
  let rank = 0
  for (const [claimId, relevantDocs] of relevant) {
    const claim = claims.get(claimId)!
    const query = [...new Set(tokenizer.tokenize(claim).split(" ").filter((t) => t !== ""))]
    const ranked = docs.map((d) => ({ d, score: bm25(query, d) })).sort((a, b) => b.score - a.score || a.d.id.localeCompare(b.d.id))
    const chosen = [
      ...ranked.filter((r) => relevantDocs.has(r.d.id)),
      ...ranked.filter((r) => !relevantDocs.has(r.d.id)).slice(0, Math.max(1, 6 - relevantDocs.size))
    ].sort((a, b) => b.score - a.score || a.d.id.localeCompare(b.d.id))
    const passages = chosen.map((r, id) => ({ id, title: r.d.doc.title, content: r.d.doc.text }))
    const isRelevant = (id: number) => relevantDocs.has(chosen[id]!.d.id)
    const top = [...scoreOf(claim, passages).quotes].sort((a, b) => b.score - a.score)[0]
    if (top !== undefined && isRelevant(top.passageId)) best++
    const { text } = yield* Effect.orDie(model.generate([{ role: "user", content: claim }], {}, { question: claim, passages }))
    const cited = citedQuotes(text)[0]
    if (cited !== undefined && isRelevant(cited.id)) first++
    if (isRelevant(0)) rank++
  }
  const n = relevant.size
  return { claims: n, bestRelevant: best / n, firstCitedRelevant: first / n, rankOnly: rank / n }
})

/** `extractiveQa` (and the SciFact citations when the dataset is there) with its own tokenizer, for hosts outside Effect (`bench/chat.ts`). */
export const runExtractiveQa = (): Promise<QaResult & { readonly scifact: SciFactCitations | undefined }> =>
  Effect.runPromise(
    Effect.provide(
      Effect.map(Effect.all([extractiveQa, scifactCitations]), ([qa, scifact]) => ({ ...qa, scifact })),
      Tokenizer.layer
    )
  )

const pct = (x: number) => `${(100 * x).toFixed(1)} %`

/** The summary table, and the questions answered wrongly when `misses` is set. */
export const formatExtractiveQa = (
  result: QaResult & { readonly scifact?: SciFactCitations | undefined },
  options: { readonly misses?: boolean } = {}
): string => {
  const lines = [
    `extractive@Builtin answer accuracy on ${result.dataset}`,
    "",
    "| measure | value |",
    "|---|---|",
    `| questions | ${result.questions} (English ${result.byLanguage.en.questions}, Chinese ${result.byLanguage.zh.questions}) |`,
    `| accuracy: known answer quoted and cited to its passage | ${pct(result.accuracy)} |`,
    `| - English | ${pct(result.byLanguage.en.accuracy)} |`,
    `| - Chinese | ${pct(result.byLanguage.zh.accuracy)} |`,
    `| cites the passage holding the answer | ${pct(result.citedRate)} |`,
    `| best-scored sentence holds the answer | ${pct(result.bestRate)} |`,
    `| baseline: first two sentences of the top passage | ${pct(result.leadAccuracy)} |`,
    `| sentences quoted, mean | ${result.meanQuotes.toFixed(2)} |`,
    `| answer length without the disclosure, mean characters | ${result.meanChars.toFixed(0)} |`,
    `| time per answer p50 / p95 | ${result.p50Ms.toFixed(2)} ms / ${result.p95Ms.toFixed(2)} ms |`
  ]
  if (result.scifact !== undefined) {
    const f = result.scifact
    lines.push(
      "",
      `Citations on BEIR SciFact test claims (${f.claims}; each with its relevant abstracts and the BM25-nearest others, six in all):`,
      "",
      "| measure | value |",
      "|---|---|",
      `| best-scored sentence from a relevant abstract | ${pct(f.bestRelevant)} |`,
      `| first citation is a relevant abstract | ${pct(f.firstCitedRelevant)} |`,
      `| baseline: the top-ranked abstract is relevant | ${pct(f.rankOnly)} |`
    )
  }
  if (options.misses === true) {
    const misses = result.rows.filter((r) => !r.correct)
    if (misses.length > 0) {
      lines.push("", "Missed:")
      for (const r of misses) lines.push(`- [${r.topic}] ${r.question} (known: ${r.known}, passage ${r.holder})\n    ${r.answer.replace(/\n+/g, " / ")}`)
    }
  }
  return lines.join("\n")
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  void runExtractiveQa().then((result) => console.log(formatExtractiveQa(result, { misses: process.argv.includes("--misses") })))
}
