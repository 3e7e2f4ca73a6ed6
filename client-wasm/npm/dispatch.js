// Where every message and lifecycle event from the wasm Core reaches user code: handlers,
// trigger listeners, receivers (with their resolvers), css.* and the lifecycle callbacks.
import * as events from "./events.js";
import { clientError, failed, invalid } from "./events.js";

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

/** `client.messages()`: an async iterator over every application message from now on. When
 *  the loop falls `bound` messages behind, the oldest are dropped, reported once per overflow
 *  (which ends when the loop is back to half the bound), as the core's own streams do. */
export class MessageStream {
  #items = [];
  #takers = [];
  #closed = false;
  #overflowing = false;
  constructor(bound) {
    this.bound = bound;
  }
  /** Queues `m`; whether an overflow starts. */
  push(m) {
    const taker = this.#takers.shift();
    if (taker) return taker({ value: m, done: false });
    let first = false;
    if (this.#items.length >= this.bound) {
      this.#items.shift();
      first = !this.#overflowing;
      this.#overflowing = true;
    }
    this.#items.push(m);
    return first;
  }
  get closed() {
    return this.#closed;
  }
  async next() {
    if (this.#items.length) {
      const value = this.#items.shift();
      if (this.#items.length <= Math.floor(this.bound / 2)) this.#overflowing = false;
      return { value, done: false };
    }
    if (this.#closed) return { value: undefined, done: true };
    return new Promise((resolve) => this.#takers.push(resolve));
  }
  async return() {
    this.#closed = true;
    this.#items = [];
    for (const taker of this.#takers.splice(0)) taker({ value: undefined, done: true });
    return { value: undefined, done: true };
  }
  [Symbol.asyncIterator]() {
    return this;
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

/** A handler's `this`: the first element the `$css` part matches, else (as ss-utils) the
 *  body; undefined without a page. */
function element(selector) {
  try {
    return (selector && document()?.querySelector(selector)) || document()?.body;
  } catch {
    return document()?.body;
  }
}

/** The elements a message's `$css` part matches (the body, or `none`, without one). */
function selected(r, m, none) {
  try {
    return m.cssSelector ? [...document().querySelectorAll(m.cssSelector)] : none;
  } catch (e) {
    report(r, e);
    return [];
  }
}

/** `trigger.{event}[$selector]`: a bubbling DOM CustomEvent named `{event}` on each matching
 *  element or on `document`, with ss-utils' two arguments as `detail`. */
function raise(r, m) {
  if (!m.target || !document() || typeof CustomEvent !== "function") return;
  for (const target of selected(r, m, [document()])) {
    target.dispatchEvent(new CustomEvent(m.target, { bubbles: true, detail: { message: m.body, event: m } }));
  }
}

/** `css.{property}[$selector] value`: styles the matching elements (the body without one). */
function applyCss(r, m) {
  if (!m.target || !document()) return;
  for (const el of selected(r, m, [document().body])) {
    if (!(globalThis.HTMLElement && el instanceof HTMLElement)) continue;
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
  } else if (target && !RESERVED.includes(target)) {
    // As ss-utils: `test.QuxTarget` sets `receiver.QuxTarget`.
    Reflect.set(instance, target, m.body);
  }
}

/** An application message: cmd handler, trigger listeners, receiver, css.*, DOM event,
 *  success, onMessage, then waits and streams. */
function onMessage(client, r, m) {
  const waits = take(r, "message");
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
  if (m.op === "trigger") raise(r, m);
  call(r, r.success, undefined, [m.selector ?? null, m.body, m.json], "success");
  call(r, r.handlers.get("onMessage"), element(m.cssSelector), [m], "onMessage");
  for (const resolve of waits) resolve(m);
  r.streams = r.streams.filter((stream) => !stream.closed);
  const overflowed = r.streams.filter((stream) => stream.push(m));
  if (overflowed.length) {
    const bound = overflowed[0].bound;
    report(r, clientError("MessagesDroppedError", "messagesDropped", `a messages() stream holds ${bound} unread messages; its oldest messages are being dropped (read faster or raise the message buffer)`));
  }
}

/** The pending waits for `kind`, taken before the callbacks run: a wait a callback starts is
 *  for the next event. */
function take(r, kind) {
  const waits = r.waits[kind];
  r.waits[kind] = [];
  return waits;
}

/** `waitForNext{kind}`: the next one after this call; a TimeoutError after `ms`. */
export function wait(r, kind, ms) {
  ms = ms > 0 && Number.isFinite(ms) ? ms : 0;
  return new Promise((resolve, reject) => {
    const done = (value) => {
      clearTimeout(timer);
      resolve(value);
    };
    const fire = () => {
      r.waits[kind] = r.waits[kind].filter((w) => w !== done);
      reject(clientError("TimeoutError", "timeout", `waiting for the next ${kind} timed out after ${Math.floor(ms)} ms`));
    };
    // setTimeout takes at most 2^31-1 ms: longer waits are re-armed.
    const arm = (left) => (timer = setTimeout(() => (left > MAX_DELAY ? arm(left - MAX_DELAY) : fire()), Math.min(left, MAX_DELAY)));
    let timer;
    r.waits[kind].push(done);
    arm(ms);
  });
}
const MAX_DELAY = 2 ** 31 - 1;

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
      const waits = take(r, "command");
      const c = events.command(f);
      handler(COMMANDS[c.type], [c]);
      handler("onCommand", [c]);
      return waits.forEach((resolve) => resolve(c));
    }
    case "heartbeat": {
      const waits = take(r, "heartbeat");
      const heartbeat = events.command(f);
      handler("onHeartbeat", [heartbeat]);
      return waits.forEach((resolve) => resolve(heartbeat));
    }
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
