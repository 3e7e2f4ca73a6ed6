// Only what the package README documents for webpack 5: nothing beyond an entry and an output.
import { fileURLToPath } from "node:url";

export default {
  mode: "production",
  entry: "./main.js",
  output: { path: fileURLToPath(new URL("./dist-webpack", import.meta.url)), filename: "main.js" },
};
