/** Raised when a loss or gradient norm is NaN or infinite; the trainer stops without checkpointing. */
export class NonFiniteLossError extends Error {
  override name = "NonFiniteLossError";
  constructor(
    readonly what: "loss" | "gradient norm",
    readonly value: number,
    /** The step that failed, counted as metrics count steps (1 = the first update). */
    readonly step: number,
    /** 0-based epoch, as everywhere in the API. */
    readonly epoch: number,
  ) {
    super(
      `non-finite ${what} (${value}) at step ${step}, epoch ${epoch}; training stopped and the last good checkpoint was kept. ` +
        "Try a lower learning rate, gradient clipping (clipGradNorm) or a longer warmup.",
    );
  }
}
