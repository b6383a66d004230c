/**
 * Datasets (MNIST from the `mnist` package, CIFAR-10 / CIFAR-100 / STL-10 binary files, image folders
 * on a sharp worker pool with a packed sample cache, text lines,
 * synthetic shapes) and the seeded, prefetching DataLoader.
 */
import type { DatasetSpec } from "../plugin/types.js";
import { cifar10 } from "./cifar10.js";
import { cifar100 } from "./cifar100.js";
import { imageFolder } from "./image-folder.js";
import { mnist } from "./mnist.js";
import { stl10 } from "./stl10.js";
import { synthetic } from "./synthetic.js";
import { textLines } from "./text-lines.js";

export * from "./cifar10.js";
export * from "./cifar100.js";
export * from "./decode-job.js";
export * from "./decode-pool.js";
export * from "./image-decode.js";
export * from "./image-folder.js";
export * from "./image-folder-pooled.js";
export * from "./loader.js";
export * from "./lru.js";
export * from "./mnist.js";
export * from "./sample-cache.js";
export * from "./split.js";
export * from "./stl10.js";
export * from "./synthetic.js";
export * from "./text-lines.js";
export * from "./tokenizer.js";

export const builtinDatasets: DatasetSpec[] = [
  mnist,
  cifar10,
  cifar100,
  stl10,
  imageFolder,
  textLines,
  synthetic,
];
