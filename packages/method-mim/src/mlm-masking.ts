/**
 * BERT's input corruption for masked language modelling (Devlin et al. 2019, sec. 3.1, "Task #1"):
 * each token is selected with probability 15%; a selected token becomes [MASK] with probability
 * 80%, a uniformly random token with probability 10%, and stays unchanged with probability 10%.
 * The loss is taken on the selected tokens only. The random and unchanged cases keep the model
 * from trusting the input at unmasked positions, since [MASK] never appears at fine-tuning time.
 * Special tokens ([PAD], [CLS], [MASK]) are never selected, and random replacements are drawn from
 * the ordinary vocabulary (ids from FIRST_ORDINARY_ID).
 */
import { CLS_ID, MASK_ID, PAD_ID, type Rng } from "@selfsup/core";

/** [PAD]=0, [UNK]=1, [CLS]=2, [MASK]=3: ordinary tokens start after the specials. */
export const FIRST_ORDINARY_ID = 4;

export interface MlmMaskingOptions {
  /** Fraction of tokens selected for prediction (BERT: 0.15). */
  selectProb?: number;
  /** Of the selected: fraction replaced by [MASK] (BERT: 0.8). */
  maskProb?: number;
  /** Of the selected: fraction replaced by a random ordinary token (BERT: 0.1); the rest stay unchanged. */
  randomProb?: number;
}

/** What was done to each position: 0 = not selected, 1 = [MASK], 2 = random token, 3 = kept. */
export const MLM_NOT_SELECTED = 0;
export const MLM_MASKED = 1;
export const MLM_RANDOM = 2;
export const MLM_KEPT = 3;

export interface MlmCorruption {
  /** The corrupted ids, same layout as the input. */
  inputs: Int32Array;
  /** 1 where a token was selected (the loss positions), else 0. */
  selected: Float32Array;
  /** 1 where the input now holds [MASK] (the 80% case), else 0. */
  masked: Float32Array;
  /** Per position: MLM_NOT_SELECTED, MLM_MASKED, MLM_RANDOM or MLM_KEPT. */
  kind: Uint8Array;
}

function isSpecial(id: number): boolean {
  return id === PAD_ID || id === CLS_ID || id === MASK_ID;
}

/** Applies the 15% / 80-10-10 rule to token ids drawn from a vocabulary of `vocabSize`. */
export function corruptTokens(
  ids: ArrayLike<number>,
  vocabSize: number,
  rng: Rng,
  opts: MlmMaskingOptions = {},
): MlmCorruption {
  const selectProb = opts.selectProb ?? 0.15;
  const maskProb = opts.maskProb ?? 0.8;
  const randomProb = opts.randomProb ?? 0.1;
  if (!(selectProb >= 0 && selectProb <= 1))
    throw new Error(`mlm: selectProb must be in [0, 1], got ${selectProb}`);
  if (!(maskProb >= 0 && randomProb >= 0 && maskProb + randomProb <= 1)) {
    throw new Error(
      `mlm: maskProb (${maskProb}) and randomProb (${randomProb}) must be >= 0 and sum to at most 1`,
    );
  }
  const ordinary = vocabSize - FIRST_ORDINARY_ID;
  const n = ids.length;
  const inputs = Int32Array.from(ids);
  const selected = new Float32Array(n);
  const masked = new Float32Array(n);
  const kind = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const id = ids[i] as number;
    if (isSpecial(id) || rng.next() >= selectProb) continue;
    selected[i] = 1;
    const u = rng.next();
    if (u < maskProb) {
      inputs[i] = MASK_ID;
      masked[i] = 1;
      kind[i] = MLM_MASKED;
    } else if (u < maskProb + randomProb && ordinary > 0) {
      inputs[i] = FIRST_ORDINARY_ID + rng.int(ordinary);
      kind[i] = MLM_RANDOM;
    } else {
      kind[i] = MLM_KEPT;
    }
  }
  return { inputs, selected, masked, kind };
}
