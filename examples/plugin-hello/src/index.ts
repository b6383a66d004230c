export { default, invert, l1 } from "./plugin.js";
