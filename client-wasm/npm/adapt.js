// Adapts the wasm-bindgen class to @servicestack/client's calling conventions: the registration
// methods return the client (so calls chain), start() resolves with the client, and
// subscribeToChannels / unsubscribeFromChannels take channels as separate arguments.
import { MessageStream, ServerEventsClient } from "./wasm/server_events.js";

const proto = ServerEventsClient.prototype;

function replace(name, wrap) {
  const original = proto[name];
  if (typeof original !== "function" || original.__adapted) return;
  const adapted = wrap(original);
  adapted.__adapted = true;
  Object.defineProperty(proto, name, { value: adapted, writable: true, configurable: true });
}

for (const name of [
  "addListener",
  "removeListener",
  "registerHandler",
  "unregisterHandler",
  "registerReceiver",
  "registerNamedReceiver",
  "unregisterReceiver",
  "setResolver",
]) {
  replace(name, (original) => function (...args) {
    original.apply(this, args);
    return this;
  });
}

replace("start", (original) => function () {
  return original.call(this).then(() => this);
});

for (const name of ["subscribeToChannels", "unsubscribeFromChannels"]) {
  replace(name, (original) => function (...channels) {
    return original.call(this, channels.flat());
  });
}

// client.messages() is an async iterator.
if (!(Symbol.asyncIterator in MessageStream.prototype)) {
  Object.defineProperty(MessageStream.prototype, Symbol.asyncIterator, {
    value: function () {
      return this;
    },
    writable: true,
    configurable: true,
  });
}
