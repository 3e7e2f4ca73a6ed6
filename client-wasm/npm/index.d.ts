// The generated declarations (the ServerEventsClient class, its options and message types,
// the resolvers, init and initSync).
export * from "./wasm/server_events.js";
export { default } from "./wasm/server_events.js";
