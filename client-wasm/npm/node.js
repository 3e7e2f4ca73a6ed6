// Node 20+ (ESM): the module is compiled synchronously from the file next to this one, so
// clients can be created at once; `await init()` is still accepted (it does nothing), so the
// same code runs in browsers and in Node.
import { readFileSync } from "node:fs";
import { initSync } from "./wasm/server_events.js";

initSync({ module: readFileSync(new URL("./wasm/server_events_bg.wasm", import.meta.url)) });

export * from "./client.js";
export { default, initSync } from "./wasm/server_events.js";
