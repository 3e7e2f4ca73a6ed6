// Only what the package README documents for Rollup: node-resolve for the package import, and
// the .wasm file copied next to the bundle (bundler-test.mjs does that copy).
import { nodeResolve } from "@rollup/plugin-node-resolve";

export default {
  input: "main.js",
  output: { dir: "dist-rollup", format: "es" },
  plugins: [nodeResolve({ browser: true })],
};
