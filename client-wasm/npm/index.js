// Browsers and bundlers (ESM). Call `await init()` once before creating clients: it fetches and
// compiles server_events_bg.wasm next to this file (bundlers emit it as an asset).
export * from "./client.js";
export { default, initSync } from "./wasm/server_events.js";
