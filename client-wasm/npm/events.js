// Errors and the objects handlers receive, made from the plain fields the wasm Core passes
// (see client-wasm/src/fields.rs for the order).

const errorFields = { status: null, retryAfterMs: null };

/** A client error (`TimeoutError`, ...), shaped like the ones the Core reports. */
export const clientError = (name, kind, message) =>
  Object.assign(new Error(message), { name, kind, ...errorFields });

/** The TypeError for an unusable argument or option. */
export const invalid = (message) =>
  Object.assign(new TypeError(message), { kind: "invalidArgument", ...errorFields });

/** A thrown value's message, for error texts. */
export function describe(value) {
  if (value instanceof Error) return value.message;
  if (typeof value === "string") return value;
  try {
    return String(value);
  } catch {
    return "(a value that cannot be shown)";
  }
}

/** The HandlerFailedError for a callback that threw `thrown`. */
export function failed(what, thrown) {
  const error = new Error(`callback for ${what} threw: ${describe(thrown)}`);
  error.name = "HandlerFailedError";
  return Object.assign(error, { kind: "handlerFailed", ...errorFields, cause: thrown });
}

function parse(json) {
  try {
    return json.trim() ? JSON.parse(json) : null;
  } catch {
    return null;
  }
}

/** `[key, value, ...]` as an object. */
const map = (pairs) => {
  const object = {};
  for (let i = 0; i < pairs.length; i += 2) object[pairs[i]] = pairs[i + 1];
  return object;
};

/** A message: the envelope, then the keys of an object body (envelope fields win). */
export function message(f, type = "ServerEventMessage", meta = {}) {
  const [eventId, data, channel, selector, json, op, target, cssSelector] = f;
  const m = { eventId, data, type, channel, selector, json, op, target, cssSelector, meta };
  const body = parse(json);
  if (body && typeof body === "object" && !Array.isArray(body)) {
    for (const key of Object.getOwnPropertyNames(body)) if (!(key in m)) m[key] = body[key];
  }
  m.body = body;
  return m;
}

/** A join, leave, update or heartbeat. */
export function command(f) {
  const [userId, displayName, profileUrl, channels, isAuthenticated, createdAt] = f.slice(10);
  return Object.assign(message(f, f[8], map(f[9])), {
    userId, displayName, profileUrl, channels, isAuthenticated, createdAt,
  });
}

/** `cmd.onConnect`: a command plus the subscription's id, URLs and intervals. */
export function connect(f) {
  const [id, unRegisterUrl, heartbeatUrl, updateSubscriberUrl, heartbeatIntervalMs, idleTimeoutMs] = f.slice(16);
  return Object.assign(command(f), {
    id, unRegisterUrl, heartbeatUrl, updateSubscriberUrl, heartbeatIntervalMs, idleTimeoutMs,
  });
}

/** A subscriber. */
export const user = ([userId, displayName, profileUrl, channels, meta]) =>
  ({ userId, displayName, profileUrl, channels, meta: map(meta) });

export const reconnect = ([previousSubscriptionId, subscriptionId, attempts, error, possibleGap, disconnectedForMs]) =>
  ({ previousSubscriptionId, subscriptionId, attempts, error, possibleGap, disconnectedForMs });

/** What onStateChange receives: only the fields the state has. */
export function state([state, attempt, delayMs, subscriptionId, error, reason]) {
  const s = { state };
  const more = { attempt, delayMs, subscriptionId, reason, error };
  for (const key in more) if (more[key] !== undefined) s[key] = more[key];
  return s;
}
