/**
 * Option fields the joint-embedding methods share: one declaration of each, with this
 * repository's defaults (small images, small backbones) and the paper's value in the description
 * that `selfsup methods` prints. A method spreads them into its schema and reads the projector's
 * widths back with `projectorWidths`:
 *
 *   export const simclrMethodOptions = z.object({
 *     ...projectorWidthOptions({ hiddenDim: 2048, outputDim: 128 }),
 *     temperature: ntXentOptions.shape.temperature,
 *   });
 *   readonly projector = this.addProjector({ layers: 2, batchNorm: true, ...projectorWidths(this.options) });
 */
import { z } from "zod";
import type { MlpSpec } from "./heads.js";

/** A positive whole-number option (a width, a size) with its default; `paper`'s value ends the description. */
export function sizeOption(
  defaultValue: number,
  description: string,
  paper?: number | string,
): z.ZodDefault<z.ZodNumber> {
  return z
    .number()
    .int()
    .positive()
    .default(defaultValue)
    .describe(paper === undefined ? description : `${description} (paper: ${paper})`);
}

/** The paper's projector widths, for the descriptions: numbers, or words ("2048 / 4096"). */
export interface PaperProjectorWidths {
  hiddenDim: number | string;
  outputDim: number | string;
}

export interface ProjectorWidthDefaults {
  /** Default hidden width (512). */
  hiddenDim?: number;
  /** Default output width (128). */
  outputDim?: number;
  /** The hidden width is the predictor's too (BYOL, NNCLR, MoCo v3): the description says so. */
  predictor?: boolean;
}

/** The width options of a projector with a hidden and an output width. */
export interface ProjectorWidthOptions {
  projectorHiddenDim: z.ZodDefault<z.ZodNumber>;
  projectorOutputDim: z.ZodDefault<z.ZodNumber>;
}

/** `projectorHiddenDim` (default 512) and `projectorOutputDim` (default 128), described with the paper's values. */
export function projectorWidthOptions(
  paper: PaperProjectorWidths,
  defaults: ProjectorWidthDefaults = {},
): ProjectorWidthOptions {
  const hidden = defaults.predictor
    ? "hidden width of the projector and predictor"
    : "hidden width of the projector";
  return {
    projectorHiddenDim: sizeOption(defaults.hiddenDim ?? 512, hidden, paper.hiddenDim),
    projectorOutputDim: sizeOption(
      defaults.outputDim ?? 128,
      "output width of the projector",
      paper.outputDim,
    ),
  };
}

/** Parsed width options: a hidden and an output width, or one `projectorDim` for every layer. */
export type ProjectorWidthValues =
  | { projectorHiddenDim: number; projectorOutputDim: number }
  | { projectorDim: number };

/** The projector spec's widths from a method's parsed width options. */
export function projectorWidths(options: ProjectorWidthValues): Pick<MlpSpec, "hiddenDim" | "outputDim"> {
  return "projectorDim" in options
    ? { hiddenDim: options.projectorDim, outputDim: options.projectorDim }
    : { hiddenDim: options.projectorHiddenDim, outputDim: options.projectorOutputDim };
}
