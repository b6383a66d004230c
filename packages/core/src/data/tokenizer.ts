/**
 * A tokenizer built from the corpus itself: character-level or word-level, with BERT-style special
 * tokens at fixed ids ([PAD]=0, [UNK]=1, [CLS]=2, [MASK]=3) so masked-language-model code can rely
 * on them. Tokens are numbered by decreasing frequency (ties alphabetically), so the vocabulary is
 * the same for the same corpus on every machine.
 */

export const PAD_ID = 0;
export const UNK_ID = 1;
export const CLS_ID = 2;
export const MASK_ID = 3;
export const SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[MASK]"] as const;

export type TokenizerLevel = "char" | "word";

export interface TokenizerOptions {
  level: TokenizerLevel;
  lowercase?: boolean;
  /** Tokens seen fewer times become [UNK]. */
  minFreq?: number;
  /** Largest vocabulary, special tokens included. */
  maxVocab?: number;
}

/** Words and punctuation marks (Unicode letters/digits runs, or any other single non-space). */
const WORD_RE = /[\p{L}\p{N}_]+|[^\p{L}\p{N}_\s]/gu;

export class Tokenizer {
  readonly vocab: readonly string[];
  private readonly ids: Map<string, number>;

  private constructor(
    readonly level: TokenizerLevel,
    readonly lowercase: boolean,
    vocab: string[],
  ) {
    this.vocab = vocab;
    this.ids = new Map(vocab.map((t, i) => [t, i]));
  }

  /** Builds the vocabulary from the corpus lines. */
  static fromCorpus(lines: readonly string[], opts: TokenizerOptions): Tokenizer {
    const lowercase = opts.lowercase ?? false;
    const counts = new Map<string, number>();
    const probe = new Tokenizer(opts.level, lowercase, [...SPECIAL_TOKENS]);
    for (const line of lines) for (const t of probe.split(line)) counts.set(t, (counts.get(t) ?? 0) + 1);
    const minFreq = opts.minFreq ?? 1;
    let tokens = [...counts.entries()]
      .filter(([t, n]) => n >= minFreq && !(SPECIAL_TOKENS as readonly string[]).includes(t))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([t]) => t);
    if (opts.maxVocab !== undefined)
      tokens = tokens.slice(0, Math.max(0, opts.maxVocab - SPECIAL_TOKENS.length));
    return new Tokenizer(opts.level, lowercase, [...SPECIAL_TOKENS, ...tokens]);
  }

  /** A tokenizer with a given vocabulary (e.g. restored from a checkpoint); specials must lead it. */
  static fromVocab(vocab: readonly string[], level: TokenizerLevel, lowercase = false): Tokenizer {
    SPECIAL_TOKENS.forEach((s, i) => {
      if (vocab[i] !== s)
        throw new Error(`Tokenizer.fromVocab: vocab[${i}] must be ${s}, got ${JSON.stringify(vocab[i])}`);
    });
    return new Tokenizer(level, lowercase, [...vocab]);
  }

  get size(): number {
    return this.vocab.length;
  }

  /** The tokens of a line (strings, before lookup). */
  split(line: string): string[] {
    const text = this.lowercase ? line.toLowerCase() : line;
    return this.level === "char" ? Array.from(text) : (text.match(WORD_RE) ?? []);
  }

  id(token: string): number {
    return this.ids.get(token) ?? UNK_ID;
  }

  /**
   * [CLS] followed by the line's token ids, cut or padded with [PAD] to exactly `seqLen`
   * (without [CLS] when `cls` is false).
   */
  encode(line: string, seqLen: number, cls = true): Int32Array {
    const out = new Int32Array(seqLen); // zero = [PAD]
    let k = 0;
    if (cls && k < seqLen) out[k++] = CLS_ID;
    for (const t of this.split(line)) {
      if (k >= seqLen) break;
      out[k++] = this.id(t);
    }
    return out;
  }

  /** Text of the ids, without [PAD] and [CLS]; [UNK] and [MASK] are shown as such. */
  decode(ids: ArrayLike<number>): string {
    const parts: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === PAD_ID || id === CLS_ID) continue;
      parts.push(this.vocab[id] ?? "[UNK]");
    }
    if (this.level === "char") return parts.join("");
    // words: spaces between words, none before punctuation
    return parts.reduce((s, t) => (s === "" ? t : /^[^\p{L}\p{N}_[]/u.test(t) ? s + t : `${s} ${t}`), "");
  }
}
