// Where every message and lifecycle event from the wasm Core reaches user code: handlers,
// trigger listeners, receivers (with their resolvers), css.* and the lifecycle callbacks.
import * as events from "./events.js";
import { failed, invalid } from "./events.js";

/** The handler names that are not `cmd.{name}` handlers. */
export const LIFECYCLE = ["onConnect", "onJoin", "onLeave", "onUpdate", "onCommand", "onMessage", "onHeartbeat", "onStop", "onException"];
const COMMANDS = { ServerEventJoin: "onJoin", ServerEventLeave: "onLeave", ServerEventUpdate: "onUpdate" };
/** Members never reached by a selector. */
const RESERVED = ["constructor", "client", "request", "noSuchMethod"];

/** Makes a new instance of a receiver class for every message (the default). */
export class NewInstanceResolver {
  tryResolve(Class) {
    return new Class();
  }
}

/** Reuses one instance per receiver class (a constructor that throws is tried again). */
export class SingletonInstanceResolver {
  #instances = new Map();
  tryResolve(Class) {
    if (!this.#instances.has(Class)) this.#instances.set(Class, new Class());
    return this.#instances.get(Class);
  }
}

const objectLike = (value) => (typeof value === "object" && value !== null) || typeof value === "function";
export { objectLike };

/** Reports a thrown value or client error to onException (the option, else the handler). */
export function report(r, thrown) {
  const handler = r.onException ?? r.handlers.get("onException");
  if (!handler) return console.error("ServerEventsClient:", thrown);
  try {
    handler(thrown);
  } catch (again) {
    console.error("ServerEventsClient: onException threw", again);
    console.error("ServerEventsClient: while reporting", thrown);
  }
}

/** Calls user code; a throw or a rejected promise becomes a HandlerFailedError. */
function call(r, fn, self, args, what) {
  if (!fn) return;
  try {
    const returned = fn.apply(self, args);
    if (returned instanceof Promise) returned.catch((e) => report(r, failed(what, e)));
  } catch (e) {
    report(r, failed(what, e));
  }
}

const document = () => globalThis.document;

/** The first element the `$css` part matches (undefined without a page or a match). */
function element(selector) {
  try {
    return (selector && document()?.querySelector(selector)) || undefined;
  } catch {
    return undefined;
  }
}

/** `css.{property}[$selector] value`: styles the matching elements (the body without one). */
function applyCss(r, m) {
  const doc = document();
  if (!m.target || !doc) return;
  let elements;
  try {
    elements = m.cssSelector ? [...doc.querySelectorAll(m.cssSelector)] : [doc.body];
  } catch (e) {
    return report(r, e);
  }
  for (const el of elements) {
    if (!el?.style) continue;
    try {
      if (!Reflect.set(el.style, m.target, m.body)) throw new TypeError(`property '${m.target}' is read-only`);
    } catch (e) {
      report(r, e);
    }
  }
}

/** The member `target` names: exact first, then ignoring case, `-` and `_`. */
function member(instance, target) {
  if (!target || RESERVED.includes(target)) return;
  const names = [];
  for (let o = instance; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    try {
      names.push(...Object.getOwnPropertyNames(o));
    } catch {}
  }
  const usable = names.filter((name) => !RESERVED.includes(name));
  const key = (name) => name.replace(/[-_]/g, "").toLowerCase();
  return usable.find((name) => name === target) ?? usable.find((name) => key(name) === key(target));
}

function receive(client, r, receiver, m) {
  let instance = receiver;
  if (typeof receiver === "function") {
    instance = typeof r.resolver?.tryResolve === "function" ? r.resolver.tryResolve(receiver) : new receiver();
    if (!objectLike(instance)) throw invalid("the resolver returned no receiver instance");
  }
  for (const [key, value] of [["client", client], ["request", m]]) {
    try {
      Reflect.set(instance, key, value);
    } catch {}
  }
  const target = m.target ?? "";
  const name = member(instance, target);
  if (name !== undefined) {
    const value = instance[name];
    if (typeof value === "function") return value.call(instance, m.body, m);
    if (!Reflect.set(instance, name, m.body)) throw new TypeError(`property '${name}' is read-only`);
  } else if (typeof instance.noSuchMethod === "function") {
    instance.noSuchMethod(target, m);
  }
}

/** An application message: cmd handler, trigger listeners, receiver, css.*, then onMessage. */
function onMessage(client, r, m) {
  const what = m.selector;
  // Taken first, as the core does: a callback that changes them acts from the next message on.
  const handler = m.op === "cmd" && !LIFECYCLE.includes(m.target) ? r.handlers.get(m.target) : undefined;
  const listeners = m.op === "trigger" ? r.listeners.filter(([name]) => name === m.target) : [];
  const receiver = m.op != null ? r.receivers.get(m.op) : undefined;
  call(r, handler, element(m.cssSelector), [m.body, m], what ?? "cmd");
  for (const [, fn] of listeners) call(r, fn, undefined, [m], what ?? "trigger");
  if (receiver !== undefined) {
    try {
      receive(client, r, receiver, m);
    } catch (e) {
      report(r, failed(what ?? "receiver", e));
    }
  }
  if (m.op === "css") applyCss(r, m);
  call(r, r.handlers.get("onMessage"), element(m.cssSelector), [m], "onMessage");
}

/** Everything the Core emits (`kind` and its fields), while the core dispatches it. */
export function dispatch(client, r, kind, f) {
  const handler = (name, args) => call(r, r.handlers.get(name), undefined, args, name);
  switch (kind) {
    case "message":
      return onMessage(client, r, events.message(f));
    case "connect": {
      const info = events.connect(f);
      return handler("onConnect", [info, info]);
    }
    case "command": {
      const c = events.command(f);
      handler(COMMANDS[c.type], [c]);
      return handler("onCommand", [c]);
    }
    case "heartbeat":
      return handler("onHeartbeat", [events.command(f)]);
    case "reconnect":
      return call(r, r.onReconnect, undefined, [events.reconnect(f)], "onReconnect");
    case "error":
      return report(r, f);
    case "state": {
      const s = events.state(f);
      if (s.state === "closed") r.closed();
      call(r, r.onStateChange, undefined, [s], "onStateChange");
      if (s.state === "closed") handler("onStop", []);
    }
  }
}
