// ServerEventsClient: @servicestack/client's API on the Rust client (the wasm Core), which
// keeps the protocol (stream, heartbeats, reconnects, channels, credentials).
import { Core } from "./wasm/server_events.js";
import { describe, invalid, connect, user } from "./events.js";
import { dispatch, LIFECYCLE, MessageStream, objectLike, report, wait } from "./dispatch.js";

export { MessageStream, NewInstanceResolver, SingletonInstanceResolver } from "./dispatch.js";

const isObject = (v) => typeof v === "object" && v !== null;
const isStrings = (v) => Array.isArray(v) && v.every((s) => typeof s === "string");
const whole = (v) => (Number.isSafeInteger(v) && v >= 0 ? v : undefined);
const RECONNECT_FORMS = '"servicestack", "never", {delayMs: n} or {initialMs: n, maxMs: m}';
/** The core's default `messageBuffer` (`ClientOptions::default()`). */
const MESSAGE_BUFFER = 1024;
const JS_ONLY = ["handlers", "receivers", "resolver", "onException", "onReconnect", "onStateChange", "success", "resolveStreamUrl", "getCredentials"];

/** Channels as an array, a comma-separated string, or nothing. */
function channelList(value, what) {
  if (value == null) return [];
  if (typeof value === "string") return value.split(",").filter((c) => c);
  if (!Array.isArray(value)) throw invalid(`${what} must be an array of channel names`);
  if (!isStrings(value)) throw invalid(`${what} must contain only strings`);
  return value;
}

/** The `[name, value]` pairs of an object option (`what` names it in errors). */
function entries(value, what) {
  if (value == null) return [];
  if (!isObject(value)) throw invalid(`${what} must be an object`);
  return Object.getOwnPropertyNames(value).map((name) => [name, value[name]]);
}

/** A plain object of strings as `[name, value, ...]`, else undefined. */
function stringMap(value) {
  const proto = isObject(value) ? Object.getPrototypeOf(value) : 0;
  if (proto !== null && (proto === 0 || Object.getPrototypeOf(proto) !== null)) return;
  const pairs = entries(value, "").flat();
  return isStrings(pairs) ? pairs : undefined;
}

/** `[delayMs, initialMs, maxMs]` (-1 for none) of the object form, else undefined. */
function reconnectMillis(value) {
  const ms = { delayMs: -1, initialMs: -1, maxMs: -1 };
  for (const name of Object.getOwnPropertyNames(value)) {
    if (!(name in ms)) continue;
    if ((ms[name] = whole(value[name])) === undefined) return;
  }
  if ((ms.delayMs < 0) === (ms.initialMs < 0)) return;
  return [ms.delayMs, ms.initialMs, ms.maxMs];
}

/** The data options, checked with the core's names, defaults and messages. */
function dataOptions(options) {
  const o = { origins: [], headers: [], reconnectMs: [], withCredentials: true, unregister: true };
  for (const name of Object.getOwnPropertyNames(options)) {
    const v = options[name];
    if (JS_ONLY.includes(name) || v == null) continue;
    if (typeof v === "function") throw invalid(`options.${name} must not be a function`);
    const check = (value, kind) => {
      if (value === undefined) throw invalid(`options.${name} must be ${kind}`);
      return value;
    };
    const count = () => check(whole(v), "a whole number of at least 0");
    const size = () => check(count() <= 0xffffffff ? v : undefined, "a smaller number");
    const text = () => check(typeof v === "string" ? v : undefined, "a string");
    const flag = () => check(typeof v === "boolean" ? v : undefined, "a boolean");
    const strings = () => check(isStrings(v) ? v : undefined, "an array of strings");
    switch (name) {
      case "channels": strings(); break;
      case "heartbeatIntervalMs": o.heartbeat = count(); break;
      case "idleTimeoutMs": o.idle = count(); break;
      case "connectTimeoutMs": o.connect = count(); break;
      case "requestTimeoutMs": o.request = count(); break;
      case "maxEventSize": o.maxEventSize = size(); break;
      case "messageBuffer": o.messageBuffer = size(); break;
      case "allowedOrigins": o.origins = strings(); break;
      case "eventStreamPath": o.streamPath = text(); break;
      case "subscribersPath": o.subscribersPath = text(); break;
      case "bearerToken": o.bearerToken = text(); break;
      case "headers": o.headers = check(stringMap(v), "a plain object of strings"); break;
      case "reconnect":
        if (typeof v === "string") o.reconnect = check(["servicestack", "never"].includes(v) ? v : undefined, RECONNECT_FORMS);
        else o.reconnectMs = check(isObject(v) ? reconnectMillis(v) : undefined, RECONNECT_FORMS);
        break;
      case "withCredentials": o.withCredentials = flag(); break;
      case "unregisterOnUnload": o.unregister = flag(); break;
      case "strictReceiverMatching": flag(); break;
    }
  }
  return o;
}

function functionOption(options, key) {
  const value = options[key];
  if (value == null) return;
  if (typeof value !== "function") throw invalid(`options.${key} must be a function`);
  return value;
}

/** `getCredentials` for the Core: resolves `[bearerToken, header pairs, query pairs]`, rejects
 *  with the reason as a string. */
const credentials = (provide) => async (refresh) => {
  try {
    const c = await provide(refresh);
    const get = (key) => (objectLike(c) ? c[key] : undefined);
    const pairs = (key) =>
      entries(get(key), `options.${key}`).flatMap(([name, text]) => {
        if (typeof text !== "string") throw invalid(`options.${key}.${name} must be a string`);
        return [name, text];
      });
    const token = get("bearerToken");
    if (token != null && typeof token !== "string") throw invalid("options.bearerToken must be a string");
    return [token ?? undefined, pairs("headers"), pairs("query")];
  } catch (e) {
    throw describe(e);
  }
};

/** `base` resolved with the platform's URL against the page's location (as it is if refused). */
function absolute(base) {
  const trimmed = String(base).trim();
  try {
    return new URL(trimmed, globalThis.location?.href).href;
  } catch {
    return trimmed;
  }
}

export class ServerEventsClient {
  #core;
  #r;
  #unload;
  #options;

  constructor(baseUrl, channels, options) {
    const list = channelList(channels, "channels");
    if (!(options == null || isObject(options))) throw invalid("options must be an object");
    options ??= {};
    const handlers = entries(options.handlers, "options.handlers");
    for (const [name, fn] of handlers) if (typeof fn !== "function") throw invalid(`handlers.${name} must be a function`);
    const receivers = entries(options.receivers, "options.receivers");
    for (const [name, receiver] of receivers) {
      if (!objectLike(receiver)) throw invalid(`receivers.${name} must be an object or a class`);
    }
    const resolver = options.resolver;
    if (resolver != null && typeof resolver.tryResolve !== "function") {
      throw invalid("options.resolver must have a tryResolve method");
    }
    const o = dataOptions(options);
    const [onException, onReconnect, onStateChange, success, resolveStreamUrl, getCredentials] = JS_ONLY.slice(3).map((key) => functionOption(options, key));
    const r = (this.#r = {
      handlers: new Map(), listeners: [], receivers: new Map(), resolver,
      waits: { message: [], command: [], heartbeat: [] }, streams: [],
      onException, onReconnect, onStateChange, success, closed: () => this.#removeUnload(),
    });
    const rewrite = resolveStreamUrl && ((url) => {
      try {
        const rewritten = resolveStreamUrl(url);
        if (typeof rewritten === "string") return rewritten;
        report(r, invalid("resolveStreamUrl must return a string"));
      } catch (e) {
        report(r, e);
      }
      return url;
    });
    this.#options = o;
    this.#core = new Core(
      absolute(baseUrl), list, (kind, f) => dispatch(this, r, kind, f),
      o.heartbeat, o.idle, o.connect, o.request, o.maxEventSize, o.origins,
      o.streamPath, o.subscribersPath, o.bearerToken, o.headers, o.reconnect, o.reconnectMs,
      o.withCredentials, getCredentials && credentials(getCredentials), rewrite,
    );
    for (const [name, fn] of handlers) this.registerHandler(name, fn);
    for (const [op, receiver] of receivers) this.registerNamedReceiver(op, receiver);
  }

  free() {
    for (const stream of this.#r.streams) stream.return();
    this.#core.free();
  }

  /** In a page: unregister with a beacon on `pagehide` while the client runs. */
  #installUnload() {
    const win = globalThis.window;
    if (!this.#options.unregister || this.#unload || !win?.addEventListener) return;
    const onHide = () => {
      const url = this.#core.info()?.[17];
      if (url) win.navigator.sendBeacon(url);
      this.#core.stop();
    };
    win.addEventListener("pagehide", onHide);
    this.#unload = () => win.removeEventListener("pagehide", onHide);
  }

  #removeUnload() {
    this.#unload?.();
    this.#unload = undefined;
  }

  async start() {
    this.#core.start();
    this.#installUnload();
    return this;
  }

  connect() {
    this.#installUnload();
    return this.#core.connect().then(connect);
  }

  stop() {
    this.#removeUnload();
    return this.#core.stop();
  }

  messages() {
    const stream = new MessageStream(Math.max(1, this.#options.messageBuffer ?? MESSAGE_BUFFER));
    this.#r.streams.push(stream);
    return stream;
  }

  restart() {
    this.#core.restart();
    this.#installUnload();
  }

  pause() {
    this.#core.pause();
  }

  resume() {
    this.#core.resume();
  }

  addListener(name, listener) {
    this.#r.listeners.push([name, listener]);
    return this;
  }

  removeListener(name, listener) {
    this.#r.listeners = this.#r.listeners.filter(([n, fn]) => !(n === name && Object.is(fn, listener)));
    return this;
  }

  registerHandler(name, handler) {
    this.#r.handlers.set(name, handler);
    return this;
  }

  unregisterHandler(name) {
    this.#r.handlers.delete(name);
    return this;
  }

  registerReceiver(receiver) {
    return this.registerNamedReceiver("cmd", receiver);
  }

  registerNamedReceiver(name, receiver) {
    if (!objectLike(receiver)) throw invalid("a receiver must be an object or a class");
    this.#r.receivers.set(name, receiver);
    return this;
  }

  unregisterReceiver(name) {
    this.#r.receivers.delete(name ?? "cmd");
    return this;
  }

  setResolver(resolver) {
    if (typeof resolver?.tryResolve !== "function") throw invalid("a resolver must have a tryResolve method");
    this.#r.resolver = resolver;
    return this;
  }

  removeAllRegistrations() {
    const r = this.#r;
    for (const name of r.handlers.keys()) if (!LIFECYCLE.includes(name)) r.handlers.delete(name);
    r.receivers.clear();
    r.listeners = [];
  }

  async subscribeToChannels(...channels) {
    return this.#core.subscribe(channelList(channels.flat(), "channels"));
  }

  async unsubscribeFromChannels(...channels) {
    return this.#core.unsubscribe(channelList(channels.flat(), "channels"));
  }

  async updateSubscriber(request) {
    const read = (key) => channelList(objectLike(request) ? request[key] : undefined, key);
    return this.#core.update(read("subscribeChannels"), read("unsubscribeChannels"));
  }

  updateChannels(channels) {
    this.#core.setChannels(channelList(channels, "channels"));
  }

  getChannelSubscribers() {
    return this.#core.channelSubscribers().then((users) => users.map(user));
  }

  async getSubscribers(channels) {
    const users = await this.#core.subscribers(channelList(channels, "channels"));
    return users.map(user);
  }

  authenticate(userName, password) {
    return this.#core.authenticate(userName, password);
  }

  async post(path, request) {
    const body = JSON.stringify(request);
    if (body === undefined) throw new TypeError("the value cannot be serialized as JSON");
    return this.#core.post(path, body);
  }

  get(path) {
    return this.#core.get(path);
  }

  getConnectionInfo() {
    const info = this.#core.info();
    if (!info) throw Core.notConnected();
    return connect(info);
  }

  getSubscriptionId() {
    return this.getConnectionInfo().id;
  }

  hasConnected() {
    return this.#core.info() !== undefined;
  }

  get channels() {
    return this.#core.channels();
  }

  get eventStreamUri() {
    return this.#core.streamUrl();
  }

  get baseUrl() {
    return this.#core.baseUrl();
  }

  get state() {
    return this.#core.state();
  }

  get timesStarted() {
    return this.#core.timesStarted();
  }

  get withCredentials() {
    return this.#options.withCredentials;
  }

  getEventSourceOptions() {
    return { withCredentials: this.#options.withCredentials };
  }

  waitForNextMessage(timeoutMs) {
    return wait(this.#r, "message", timeoutMs);
  }

  waitForNextCommand(timeoutMs) {
    return wait(this.#r, "command", timeoutMs);
  }

  waitForNextHeartbeat(timeoutMs) {
    return wait(this.#r, "heartbeat", timeoutMs);
  }
}
if (Symbol.dispose) ServerEventsClient.prototype[Symbol.dispose] = ServerEventsClient.prototype.free;
