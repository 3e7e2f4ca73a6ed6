// The package's declarations: ServerEventsClient, its options and message types, the
// resolvers, and init/initSync (from the generated module).
export { default, initSync } from "./wasm/server_events.js";
export type { InitInput, InitOutput, SyncInitInput } from "./wasm/server_events.js";

/** The name of a connection state. */
export type ConnectionStateName = "idle" | "connecting" | "open" | "reconnecting" | "paused" | "closed";

/** What `onStateChange` receives. */
export interface ConnectionStateInfo {
  state: ConnectionStateName;
  /** `connecting` and `reconnecting`: the attempt number. */
  attempt?: number;
  /** `reconnecting`: the wait before the next attempt. */
  delayMs?: number;
  /** `open`: the subscription id. */
  subscriptionId?: string;
  /** `closed`: why (`"stopped"`, `"connectFailed"`, `"unauthorized"`, `"gaveUp"`, ...). */
  reason?: string;
  /** `reconnecting` and some `closed` states: the error behind it. */
  error?: ServerEventsError | null;
}

/** Every error the client reports or rejects with is a JavaScript `Error` with these fields. */
export interface ServerEventsError extends Error {
  /** `"HttpError"`, `"UnauthorizedError"`, `"NetworkError"`, `"TimeoutError"`, ... */
  name: string;
  /** The same in camelCase: `"http"`, `"unauthorized"`, `"network"`, `"timeout"`,
   *  `"idleTimeout"`, `"subscriptionGone"`, `"slowConsumer"` (the server closed the stream because
   *  the client read too slowly), `"protocol"`, `"eventTooLarge"`, `"notConnected"`,
   *  `"invalidUrl"`, `"invalidArgument"`, ... */
  kind: string;
  /** The HTTP status behind the error, or `null`. */
  status: number | null;
  /** How long the server asked to wait (`Retry-After`), in milliseconds, or `null`. A reconnect
   *  waits at least this long, up to the reconnect policy's cap. */
  retryAfterMs: number | null;
}

/** One event as received: the envelope, plus the keys of an object body (envelope fields win). */
export interface ServerEventMessage {
  type: "ServerEventConnect" | "ServerEventHeartbeat" | "ServerEventJoin" | "ServerEventLeave" | "ServerEventUpdate" | "ServerEventMessage";
  /** The SSE id (0 when the event had none). */
  eventId: number;
  /** The whole `data:` line, channel prefix included. */
  data: string;
  /** The channel of `channel@op.target`, or `null`. */
  channel: string | null;
  /** `op.target[$css]`, without the channel. */
  selector: string | null;
  /** The body text after the selector (may be empty). */
  json: string;
  /** The parsed body, or `null` when empty or not JSON. */
  body: any;
  op: string | null;
  /** The target, with `%20` decoded and without the `$css` part. */
  target: string | null;
  /** The part after `$`, or `null`. */
  cssSelector: string | null;
  /** For built-in commands, every payload key as a string; `{}` otherwise. */
  meta: Record<string, string>;
  [key: string]: any;
}

/** A join, leave, update or heartbeat. */
export interface ServerEventCommand extends ServerEventMessage {
  userId: string;
  displayName: string;
  profileUrl: string | null;
  /** The subscriber's channels, comma-separated, as ServiceStack sends them. */
  channels: string;
  isAuthenticated: boolean;
  /** When the subscription was created (epoch ms), or `null`. */
  createdAt: number | null;
}

export interface ServerEventJoin extends ServerEventCommand { type: "ServerEventJoin"; }
export interface ServerEventLeave extends ServerEventCommand { type: "ServerEventLeave"; }
export interface ServerEventUpdate extends ServerEventCommand { type: "ServerEventUpdate"; }
export interface ServerEventHeartbeat extends ServerEventCommand { type: "ServerEventHeartbeat"; }

/** `cmd.onConnect`: this client's subscription. */
export interface ServerEventConnect extends ServerEventCommand {
  type: "ServerEventConnect";
  /** The subscription id. */
  id: string;
  unRegisterUrl: string | null;
  heartbeatUrl: string | null;
  updateSubscriberUrl: string | null;
  heartbeatIntervalMs: number;
  idleTimeoutMs: number;
}

/** A subscriber, as `getChannelSubscribers()` lists it. */
export interface ServerEventUser {
  userId: string;
  displayName: string;
  profileUrl: string | null;
  channels: string[];
  meta: Record<string, string>;
}

/** What `onReconnect` receives. */
export interface ReconnectInfo {
  /** The subscription that was lost (the client unregistered it). */
  previousSubscriptionId: string | null;
  /** The new subscription. */
  subscriptionId: string;
  attempts: number;
  /** Why the previous connection ended (`null` for a requested restart). */
  error: ServerEventsError | null;
  /** Whether events may have been missed (ServiceStack never replays). */
  possibleGap: boolean;
  disconnectedForMs: number;
}

/** The body of `updateSubscriber`. */
export interface UpdateEventSubscriber {
  subscribeChannels?: string[] | string;
  unsubscribeChannels?: string[] | string;
}

/** Makes the instance for a receiver given as a class. */
export interface IResolver {
  tryResolve(constructor: new (...args: any[]) => any): any;
}

/** What `getCredentials` returns (or resolves to). */
export interface ServerEventsCredentials {
  bearerToken?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

/** `handlers`: the lifecycle names below, or any other name for `cmd.{name}` messages. */
export interface ServerEventsHandlers {
  onConnect?: (info: ServerEventConnect, request: ServerEventConnect) => void;
  onJoin?: (join: ServerEventJoin) => void;
  onLeave?: (leave: ServerEventLeave) => void;
  onUpdate?: (update: ServerEventUpdate) => void;
  /** Every join, leave and update, after the specific handler. */
  onCommand?: (command: ServerEventCommand) => void;
  /** Every application message, after its handler, listeners and receiver. */
  onMessage?: (message: ServerEventMessage) => void;
  onHeartbeat?: (heartbeat: ServerEventHeartbeat) => void;
  /** The client closed (stopped, or gave up). */
  onStop?: () => void;
  /** `cmd.{name}` handlers: the parsed body and the message; `this` is the element the `$css`
   *  part of the selector matches, in a page. */
  [name: string]: ((this: any, body: any, request: ServerEventMessage) => void) | ((...args: any[]) => void) | undefined;
}

/** The third constructor argument. The data options (everything but functions, receivers and
 *  the resolver) are the Rust core's `ClientOptions`: names, defaults and checks are the same on
 *  every platform; a value of the wrong type throws a `TypeError`. */
export interface ServerEventsClientOptions {
  handlers?: ServerEventsHandlers;
  /** op → receiver object or class (`cmd` is the global receiver). */
  receivers?: Record<string, object | (new () => object)>;
  /** Makes receiver instances from classes (default: a new instance per message). */
  resolver?: IResolver;
  /** Every error: connection failures, malformed events, exceptions thrown by callbacks. */
  onException?: (error: ServerEventsError | any) => void;
  /** The client has a new subscription after losing one. */
  onReconnect?: (info: ReconnectInfo) => void;
  /** Every connection state change. */
  onStateChange?: (state: ConnectionStateInfo) => void;
  /** After every application message is handled (handlers, receivers, `css.*`, `trigger.*`),
   *  as ss-utils' `success`: the selector, the parsed body and the body's JSON text. */
  success?: (selector: string | null, message: any, json: string) => void;
  /** Send cookies with cross-origin requests (fetch `credentials: "include"`). Default `true`. */
  withCredentials?: boolean;
  /** In a page, unregister with `navigator.sendBeacon` on `pagehide`. Default `true`. */
  unregisterOnUnload?: boolean;
  /** Override the server's heartbeat interval (default: the server's; 0 means the server's). */
  heartbeatIntervalMs?: number;
  /** Override how long the stream may stay silent before it is presumed dead (default: the
   *  server's idle timeout; 0 means the server's). */
  idleTimeoutMs?: number;
  /** Limit for opening the stream and receiving `cmd.onConnect` (default 10000). */
  connectTimeoutMs?: number;
  /** Limit for heartbeats, unregisters and service calls (default 30000). */
  requestTimeoutMs?: number;
  /** The largest event accepted, in bytes (default 8 MiB). */
  maxEventSize?: number;
  /**
   * The most unread messages one `messages()` iterator holds (default 1024). When its loop
   * falls that far behind, the oldest unread messages are dropped and a `messagesDropped`
   * error goes to `onException` once per overflow.
   */
  messageBuffer?: number;
  /**
   * Origins (`"https://host:port"`) besides the base URL's that may receive credentials. The
   * server's `heartbeatUrl`, `unRegisterUrl` and `updateSubscriberUrl` on any other origin are
   * moved onto the base URL's origin (same path and query), reported once as a `foreignUrl`
   * error; on an allowed origin they are used as given.
   */
  allowedOrigins?: string[];
  /** Sent as `Authorization: Bearer …` on every request to the allowed origins. */
  bearerToken?: string;
  /** Sent on every request to the allowed origins. */
  headers?: Record<string, string>;
  /** Asked before every request (`refresh` is true after a 401/403). */
  getCredentials?: (refresh: boolean) => ServerEventsCredentials | Promise<ServerEventsCredentials>;
  /** Rewrites the stream URL before each connect. */
  resolveStreamUrl?: (url: string) => string;
  /** `"servicestack"` (default: random n³…(n+1)³ ms after the n-th failure, capped at 60 s),
   *  `"never"`, `{ delayMs }` or `{ initialMs, maxMs }` (`maxMs` default 60000). */
  reconnect?: "servicestack" | "never" | { delayMs: number } | { initialMs: number; maxMs?: number };
  /** Default `/event-stream`. */
  eventStreamPath?: string;
  /** Default `/event-subscribers`. */
  subscribersPath?: string;
}

/** `for await (const message of client.messages())`. */
export class MessageStream {
  private constructor();
  /** The next message, as an async iterator's `next()`: `{ value, done: false }`, or
   *  `{ done: true }` once the iteration was ended or the client stopped for good. */
  next(): Promise<IteratorResult<ServerEventMessage, undefined>>;
  /** Ends the iteration (`for await` calls it on `break`): pending and later `next()` calls
   *  resolve `{ done: true }` and buffered messages are released. */
  return(): Promise<IteratorResult<ServerEventMessage, undefined>>;
  [Symbol.asyncIterator](): MessageStream;
}

/** Makes a new instance of a receiver class for every message (the default). */
export class NewInstanceResolver implements IResolver {
  constructor();
  /** `new Class()`. */
  tryResolve(constructor: new () => any): any;
}

/** Reuses one instance per receiver class (a constructor that throws leaves it unset, so the
 *  next message tries again). */
export class SingletonInstanceResolver implements IResolver {
  constructor();
  /** The class's one instance, created with `new Class()` the first time. */
  tryResolve(constructor: new () => any): any;
}

/**
 * A ServiceStack Server Events client: one subscription to a ServiceStack host's
 * `/event-stream`, with heartbeats, reconnects (ServiceStack's backoff) and unregistering on
 * stop and when the page goes away.
 *
 * ```js
 * const client = new ServerEventsClient("https://chat.example.org", ["home"], {
 *   handlers: { chat: (msg, request) => console.log(msg.fromName, msg.message) },
 *   onException: (e) => console.error(e),
 * });
 * const info = await client.connect();
 * ```
 */
export class ServerEventsClient {
  /**
   * A client for the ServiceStack host at `baseUrl` (absolute, or relative to the page),
   * subscribing to `channels` (an array, a comma-separated string, or nothing for the
   * server's default channel `*`). Nothing connects until `start()` or `connect()`.
   *
   * Throws a `TypeError` for options of the wrong type and an `InvalidUrlError` or
   * `InvalidArgumentError` for an unusable URL or channel name.
   */
  constructor(baseUrl: string, channels?: string[] | string, options?: ServerEventsClientOptions);
  /** Releases the client's wasm memory; the client cannot be used afterwards. */
  free(): void;
  /** `free()`, for `using client = new ServerEventsClient(...)`. */
  [Symbol.dispose](): void;
  /** Starts connecting in the background and keeps reconnecting until `stop()`; resolves with
   *  the client at once (`connect()` waits for the connection instead). */
  start(): Promise<this>;
  /** Connects and resolves with the connection info (`cmd.onConnect`). On a client that never
   *  connected, a failed first attempt rejects (an `HttpError`, `UnauthorizedError`,
   *  `NetworkError`, ...) and the client stops rather than retrying behind the caller's back. */
  connect(): Promise<ServerEventConnect>;
  /** Stops: closes the stream, stops heartbeats and unregisters the subscription. Resolves
   *  once it is unregistered. */
  stop(): Promise<void>;
  /** Every application message from now on, as an async iterator:
   *  `for await (const message of client.messages()) { ... }`. Nothing is dropped while the
   *  loop is busy (up to `messageBuffer`); `break` ends it. */
  messages(): MessageStream;
  /** Drops the connection and reconnects at once with the current channels. */
  restart(): void;
  /** Unregisters and disconnects until `resume()` (for example while the tab is hidden). */
  pause(): void;
  /** Reconnects a paused client at once. */
  resume(): void;
  /** Adds a listener for `trigger.{name}` messages. */
  addListener(name: string, listener: (message: ServerEventMessage) => void): this;
  /** Removes a listener added with `addListener` (the same function). */
  removeListener(name: string, listener: (message: ServerEventMessage) => void): this;
  /** Sets a lifecycle handler (`onConnect`, `onJoin`, ..., `onStop`) or a `cmd.{name}` handler
   *  (called with `(body, request)`, `this` bound to the element the `$css` part selects). */
  registerHandler(name: string, handler: (...args: any[]) => void): this;
  /** Removes the handler `name`. */
  unregisterHandler(name: string): this;
  /** Registers the global receiver (`cmd.*`): an object, or a class resolved by the resolver. */
  registerReceiver(receiver: object | (new () => object)): this;
  /** Registers a receiver for `{name}.*` messages (an object such as `document`, or a class). */
  registerNamedReceiver(name: string, receiver: object | (new () => object)): this;
  /** Removes the receiver for `name` (default `"cmd"`). */
  unregisterReceiver(name?: string): this;
  /** Sets the resolver for receivers given as classes (used from the next message on). */
  setResolver(resolver: IResolver): this;
  /** Removes every `cmd.{name}` handler, receiver and trigger listener (lifecycle handlers such
   *  as `onConnect` stay). */
  removeAllRegistrations(): void;
  /** Subscribes the live subscription to more channels. */
  subscribeToChannels(...channels: (string | string[])[]): Promise<void>;
  /** Unsubscribes the live subscription from channels. */
  unsubscribeFromChannels(...channels: (string | string[])[]): Promise<void>;
  /** Changes the live subscription: `{ subscribeChannels?, unsubscribeChannels? }`. */
  updateSubscriber(request: UpdateEventSubscriber): Promise<void>;
  /** Replaces the channel list locally; it is used from the next (re)connect. */
  updateChannels(channels: string[] | string): void;
  /** The subscribers of this client's channels. */
  getChannelSubscribers(): Promise<ServerEventUser[]>;
  /** The subscribers of `channels` (every subscriber when empty). */
  getSubscribers(channels: string[] | string): Promise<ServerEventUser[]>;
  /** Signs in with ServiceStack's credentials provider (`POST /auth/credentials`); the session
   *  cookies it sets are used by the stream from the next connect on. Resolves with the
   *  `AuthenticateResponse`. */
  authenticate(userName: string, password: string): Promise<Record<string, any>>;
  /** POSTs `request` as JSON to `path` (a path on the host, an absolute URL, or a DTO name
   *  reached at `/api/{name}`) and resolves with the parsed response (`null` when empty). */
  post(path: string, request: any): Promise<any>;
  /** GETs `path` and resolves with the parsed JSON response. */
  get(path: string): Promise<any>;
  /** The current connection info; throws a `NotConnectedError` when not connected. */
  getConnectionInfo(): ServerEventConnect;
  /** The current subscription id; throws a `NotConnectedError` when not connected. */
  getSubscriptionId(): string;
  /** Whether the client has a subscription now. */
  hasConnected(): boolean;
  /** `{ withCredentials }`, as the TypeScript client reports it. */
  getEventSourceOptions(): { withCredentials: boolean };
  /** Resolves with the next application message received after this call; rejects with a
   *  `TimeoutError` after `timeoutMs`. The wait starts when this is called, so a message that
   *  arrives before the promise is awaited is not missed. */
  waitForNextMessage(timeoutMs: number): Promise<ServerEventMessage>;
  /** Resolves with the next join, leave or update received after this call (started at once,
   *  like `waitForNextMessage`). */
  waitForNextCommand(timeoutMs: number): Promise<ServerEventCommand>;
  /** Resolves with the next heartbeat answer (`cmd.onHeartbeat`) received after this call. */
  waitForNextHeartbeat(timeoutMs: number): Promise<ServerEventHeartbeat>;
  /** The host's base URL (absolute, without a trailing slash). */
  readonly baseUrl: string;
  /** The channels the client subscribes to. */
  readonly channels: string[];
  /** The URL the next connect opens, e.g. `https://host/event-stream?channels=A,B`. */
  readonly eventStreamUri: string;
  /** `"idle"`, `"connecting"`, `"open"`, `"reconnecting"`, `"paused"` or `"closed"`. */
  readonly state: ConnectionStateName;
  /** How many times the client has opened (or tried to open) the event stream. */
  readonly timesStarted: number;
  /** Whether cross-origin requests carry the page's cookies (the `withCredentials` option). */
  readonly withCredentials: boolean;
}
