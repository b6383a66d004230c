export * from "./onnx.js";
export * from "./safetensors.js";
export * from "./tfjs.js";
