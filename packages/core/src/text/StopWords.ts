/**
 * Words a query drops before searching (RAGFlow removes them too): they match nearly every chunk,
 * add nothing to the ranking and make full-text candidate sets huge. Lower-case, as tokens are;
 * stemmed forms are checked by the caller through the tokenizer.
 */
export const EnglishStopWords: ReadonlySet<string> = new Set(
  (
    "a about above after again against all am an and any are aren as at be because been before being below between both but by " +
    "can cannot could couldn did didn do does doesn doing don down during each few for from further had hadn has hasn have haven having " +
    "he her here hers herself him himself his how i if in into is isn it its itself just let ll me more most mustn my myself no nor not " +
    "now of off on once only or other ought our ours ourselves out over own re s same shan she should shouldn so some such t than that " +
    "the their theirs them themselves then there these they this those through to too under until up ve very was wasn we were weren what " +
    "when where which while who whom why will with won would wouldn you your yours yourself yourselves"
  ).split(" ")
)

export const ChineseStopWords: ReadonlySet<string> = new Set(
  "的 了 和 是 就 都 而 及 与 着 或 一个 没有 我们 你们 他们 它们 这个 那个 这些 那些 什么 怎么 如何 哪些 吗 呢 吧 啊 请问 请 在 有 也 为 以 之 其 对 被".split(" ")
)
