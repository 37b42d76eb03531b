/**
 * Tokenizer: token counts as RAGFlow counts them (tiktoken `cl100k_base`) and the search tokens it
 * indexes (RAGFlow's `rag_tokenizer`): lower-cased, Porter-stemmed English words, jieba-segmented
 * Chinese, full-width characters folded, traditional Chinese folded to simplified where known.
 *
 * - `tokenize(text)`: the coarse tokens (`content_ltks`), space separated;
 * - `fineTokenize(tokens)`: the finer split of coarse tokens (`content_sm_ltks`), space separated;
 * - `countTokens(text)`: tiktoken cl100k_base count.
 *
 * Queries go through the same `tokenize`, so both sides match. The layer acquires the tiktoken
 * encoder and the jieba dictionary once.
 */
import { Context } from "effect"

export interface TokenizerService {
  readonly countTokens: (text: string) => number
  readonly tokenize: (text: string) => string
  readonly fineTokenize: (tokens: string) => string
}

export class Tokenizer extends Context.Tag("@ragkit/core/Tokenizer")<Tokenizer, TokenizerService>() {}
