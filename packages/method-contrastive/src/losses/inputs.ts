import type { tf } from "@selfsup/core";
import type { z } from "zod";

/** Throws a readable error unless `a` and `b` are [N, D] matrices of the same shape with N >= minBatch. */
export function assertPair(loss: string, a: tf.Tensor, b: tf.Tensor, minBatch = 1): void {
  if (a.rank !== 2 || b.rank !== 2) {
    throw new Error(`${loss}: expects two [N, D] embeddings, got shapes [${a.shape}] and [${b.shape}]`);
  }
  if (a.shape[0] !== b.shape[0] || a.shape[1] !== b.shape[1]) {
    throw new Error(
      `${loss}: the two embeddings must have the same shape, got [${a.shape}] and [${b.shape}]`,
    );
  }
  if ((a.shape[0] ?? 0) < minBatch) {
    throw new Error(`${loss}: needs a batch of at least ${minBatch} samples, got ${a.shape[0]}`);
  }
}

/** A LossSpec's LossFn receives a rest array; this names the missing input in the error. */
export function requireInput(
  loss: string,
  inputs: Array<tf.Tensor | undefined>,
  index: number,
  name: string,
  usage: string,
): tf.Tensor {
  const t = inputs[index];
  if (t === undefined) throw new Error(`${loss} loss: missing input ${name} (call it as ${usage})`);
  return t;
}

/**
 * A loss function's options parsed by its spec's schema: the schema holds the only defaults, and
 * a bad value is named with the loss ("ntXentLoss: temperature must be > 0, got 0").
 */
export function lossOptions<S extends z.ZodType>(loss: string, schema: S, opts: z.input<S>): z.output<S> {
  const parsed = schema.safeParse(opts);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.join(".") ?? "options";
  const got = issue?.path.reduce<unknown>(
    (o, k) => (o as Record<PropertyKey, unknown> | undefined)?.[k],
    opts,
  );
  throw new Error(`${loss}: ${field} ${issue?.message ?? "is invalid"}, got ${JSON.stringify(got)}`);
}
