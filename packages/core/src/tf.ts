/**
 * The one TensorFlow.js instance of the workspace. Method packages and plugins import tensors
 * from here (`import { tf } from "@selfsup/core"`) so that every package shares one engine,
 * one backend and one variable registry.
 */
import * as tf from "@tensorflow/tfjs-core";

export { tf };
export type Tensor = tf.Tensor;
export type Scalar = tf.Scalar;
export type Tensor1D = tf.Tensor1D;
export type Tensor2D = tf.Tensor2D;
export type Tensor3D = tf.Tensor3D;
export type Tensor4D = tf.Tensor4D;
export type Variable = tf.Variable;
