// Replays one conformance scenario (conformance-tests/scenarios/FORMAT.md) through the npm
// package's public API. The same module runs in headless Chromium and in Node 20.

import { matches, substitute, substituteValue } from "./matching.mjs";
import { makeReceivers } from "./receivers.mjs";

const DEFAULT_TIMEOUT_MS = 5000;

/** Steps no JavaScript leg can perform (they need threads, handle drops or a server restart). */
const UNSUPPORTED = new Set(["drop", "restart_server"]);

class StepError extends Error {}

function fail(message) {
  throw new StepError(message);
}

function describe(value) {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function splitChannels(text) {
  return typeof text === "string" && text.length > 0 ? text.split(",") : [];
}

function errorFields(error) {
  return {
    message: error?.message ?? String(error),
    status: typeof error?.status === "number" ? error.status : null,
    kind: error?.kind ?? null,
  };
}

function connectFields(e) {
  return {
    id: e.id,
    userId: e.userId,
    displayName: e.displayName,
    isAuthenticated: e.isAuthenticated,
    channels: splitChannels(e.channels),
    heartbeatUrl: e.heartbeatUrl,
    unRegisterUrl: e.unRegisterUrl,
    updateSubscriberUrl: e.updateSubscriberUrl,
    heartbeatIntervalMs: e.heartbeatIntervalMs,
    idleTimeoutMs: e.idleTimeoutMs,
    meta: e.meta,
  };
}

function commandFields(e) {
  return {
    channel: e.channel,
    userId: e.userId,
    displayName: e.displayName,
    isAuthenticated: e.isAuthenticated,
    channels: splitChannels(e.channels),
    meta: e.meta,
  };
}

const COMMAND_KINDS = { ServerEventJoin: "join", ServerEventLeave: "leave", ServerEventUpdate: "update" };

function messageFields(m) {
  return {
    eventId: m.eventId,
    channel: m.channel,
    selector: m.selector,
    op: m.op,
    target: m.target,
    cssSelector: m.cssSelector,
    json: m.json,
    body: m.body,
  };
}

function stateFields(s) {
  const fields = { ...s };
  if ("error" in fields) fields.error = fields.error ? errorFields(fields.error) : null;
  return fields;
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new StepError(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One client of a scenario and the log of everything it observed. */
class TestClient {
  constructor(name, lib, spec, scenario) {
    this.name = name;
    this.events = [];
    this.waiters = new Set();
    this.listeners = new Map();
    this.lastConnect = null;
    this.iterator = null;
    const record = (kind, fields) => this.record(kind, fields);
    const { classes, resolver } = makeReceivers(record);
    this.classes = classes;
    /** How many listeners each trigger name has had (the next index). */
    this.listenerCounts = new Map();

    const handlers = {
      onConnect: (e) => {
        const fields = connectFields(e);
        this.lastConnect = fields;
        record("connect", fields);
      },
      onJoin: (e) => record("join", commandFields(e)),
      onLeave: (e) => record("leave", commandFields(e)),
      onUpdate: (e) => record("update", commandFields(e)),
      onCommand: (e) => record("command", { ...commandFields(e), kind: COMMAND_KINDS[e.type] ?? e.type }),
      onHeartbeat: (e) => record("heartbeat", { userId: e.userId, displayName: e.displayName }),
      onMessage: (m) => record("message", messageFields(m)),
    };
    for (const handlerName of spec.handlers ?? []) {
      handlers[handlerName] = this.recordingHandler(handlerName);
    }
    for (const handlerName of spec.throwingHandlers ?? []) {
      handlers[handlerName] = (body) => {
        record("handler", { name: handlerName, body });
        throw new Error(`${handlerName} fails on purpose`);
      };
    }

    const options = {
      handlers,
      onException: (error) => record("exception", errorFields(error)),
      onReconnect: (info) => record("reconnect", { previousId: info.previousSubscriptionId, id: info.subscriptionId }),
      onStateChange: (state) => record("state", stateFields(state)),
    };
    const receiverNames = Object.entries(spec.receivers ?? {});
    if (receiverNames.length > 0) {
      options.receivers = {};
      for (const [op, className] of receiverNames) {
        const Class = classes[className];
        if (!Class) fail(`unknown receiver class ${className}`);
        options.receivers[op] = Class;
      }
    }
    const needsInjection = receiverNames.some(([, className]) => className === "TestContainerReceiver");
    if (needsInjection) {
      options.resolver = resolver(spec.resolver ?? "new");
    } else if (spec.resolver === "singleton") {
      options.resolver = new lib.SingletonInstanceResolver();
    } else if (spec.resolver && spec.resolver !== "new") {
      fail(`unknown resolver ${spec.resolver}`);
    }
    if (spec.heartbeatMs !== undefined) options.heartbeatIntervalMs = spec.heartbeatMs;
    if (spec.idleTimeoutMs !== undefined) options.idleTimeoutMs = spec.idleTimeoutMs;
    if (spec.connectTimeoutMs !== undefined) options.connectTimeoutMs = spec.connectTimeoutMs;
    if (spec.maxEventSizeBytes !== undefined) options.maxEventSize = spec.maxEventSizeBytes;
    if (spec.withCredentials !== undefined) options.withCredentials = spec.withCredentials;

    const baseUrl = spec.baseUrl !== undefined ? scenario.text(spec.baseUrl) : scenario.baseUrl;
    this.client = new lib.ServerEventsClient(baseUrl, spec.channels ?? [], options);
    // The log starts with the state the client was created in, as the Rust leg's state stream does.
    record("state", { state: this.client.state });

    for (const [listenerName, count] of Object.entries(spec.listeners ?? {})) {
      for (let index = 0; index < count; index++) this.addListener(listenerName);
    }
    if (spec.consumeStream) {
      this.iterator = this.client.messages();
      this.consumer = (async () => {
        for await (const message of this.iterator) {
          record("streamed", messageFields(message));
        }
      })();
    }
  }

  recordingHandler(name) {
    return (body) => this.record("handler", { name, body });
  }

  /** Adds a recording trigger listener with the next index for `name`. */
  addListener(name) {
    const index = this.listenerCounts.get(name) ?? 0;
    this.listenerCounts.set(name, index + 1);
    const listener = (message) => this.record("listener", { name, index, body: message.body });
    this.client.addListener(name, listener);
    if (!this.listeners.has(name)) this.listeners.set(name, []);
    this.listeners.get(name)[index] = listener;
  }

  record(kind, fields) {
    this.events.push({ kind, fields, at: performance.now() });
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves with `check()`'s first non-undefined result, or undefined after `timeoutMs`. */
  waitFor(check, timeoutMs) {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve) => {
      const waiter = () => {
        const result = check();
        if (result !== undefined) {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(result);
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  async close() {
    if (this.iterator) await this.iterator.return();
    await withTimeout(this.client.stop(), 10000, `${this.name}.stop()`);
    if (this.consumer) await this.consumer;
  }
}

/** The state of one running scenario. */
class ScenarioRun {
  constructor(lib, baseUrl, fetchImpl) {
    this.lib = lib;
    this.baseUrl = baseUrl;
    this.fetch = fetchImpl;
    this.clients = new Map();
    this.cursors = new Map();
    this.waits = new Map();
  }

  lookup(name, field) {
    if (name === "baseUrl" && field === undefined) return this.baseUrl;
    if (field === undefined) return undefined;
    const client = this.clients.get(name);
    if (!client) return undefined;
    if (!client.lastConnect) fail(`$${name}.${field}: ${name} has not connected yet`);
    const value = client.lastConnect[field];
    if (value === undefined || value === null) fail(`$${name}.${field}: no such variable in its onConnect`);
    return Array.isArray(value) ? value.join(",") : String(value);
  }

  text(value) {
    return substitute(value, (name, field) => this.lookup(name, field));
  }

  value(value) {
    return substituteValue(value, (name, field) => this.lookup(name, field));
  }

  testClient(name) {
    const client = this.clients.get(name);
    if (!client) fail(`no client named ${name}`);
    return client;
  }

  client(name) {
    return this.testClient(name).client;
  }

  subscriptionId(name) {
    const id = this.testClient(name).lastConnect?.id;
    if (!id) fail(`${name} has not connected`);
    return id;
  }

  async http(method, url, body, contentType = "application/json") {
    const init = { method, credentials: "include" };
    if (body !== undefined) {
      init.body = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
      if (!(body instanceof Uint8Array)) init.headers = { "Content-Type": contentType };
    }
    const response = await this.fetch(url, init);
    const text = await response.text();
    return { status: response.status, text };
  }

  async httpOk(method, url, body) {
    const reply = await this.http(method, url, body);
    if (reply.status < 200 || reply.status >= 300) fail(`${method} ${url} answered ${reply.status}: ${reply.text}`);
    return reply;
  }

  /** POSTs a test service through the `from` client (as the upstream helpers do). */
  async postService(from, path, body) {
    try {
      await this.client(from).post(path, body);
    } catch (error) {
      fail(`POST ${path} ${describe(body)} failed: ${error.message}`);
    }
  }

  checkOutcome(name, error, expected) {
    if (!expected && !error) return;
    if (expected && !error) fail(`${name}: succeeded, but an error matching ${describe(expected)} was expected`);
    if (!expected) fail(`${name}: failed: ${error.name}: ${error.message}`);
    const fields = errorFields(error);
    if (!matches(fields, this.value(expected))) {
      fail(`${name}: the error ${describe(fields)} does not match ${describe(expected)}`);
    }
  }

  filter(client, kind, matcher) {
    const found = [];
    client.events.forEach((event, index) => {
      if (event.kind === kind && matches(event.fields, matcher)) found.push(index);
    });
    return found;
  }

  async expect(step) {
    const client = this.testClient(step.client);
    const matcher = this.value(step.match ?? {});
    const key = `${step.client}/${step.kind}`;
    const after = this.cursors.get(key);
    const timeoutMs = step.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const index = await client.waitFor(
      () => this.filter(client, step.kind, matcher).find((i) => after === undefined || i > after),
      timeoutMs,
    );
    if (index === undefined) {
      const seen = client.events.filter((e) => e.kind === step.kind).map((e) => describe(e.fields));
      fail(
        `${step.client}: no ${step.kind} event matching ${describe(matcher)} arrived` +
          `${after === undefined ? "" : ` after event #${after}`} within ${timeoutMs} ms; ` +
          `${step.kind} events seen: [${seen.slice(-5).join(", ")}]`,
      );
    }
    this.cursors.set(key, index);
  }

  async expectCount(step, wait) {
    const client = this.testClient(step.client);
    const matcher = this.value(step.match ?? {});
    const count = () => this.filter(client, step.kind, matcher).length;
    const timeoutMs = step.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (wait) await client.waitFor(() => (count() >= step.count ? true : undefined), timeoutMs);
    const actual = count();
    if (actual !== step.count) {
      fail(
        `${step.client}: ${actual} ${step.kind} events match ${describe(matcher)}, expected exactly ${step.count}` +
          (wait ? ` (waited up to ${timeoutMs} ms)` : ""),
      );
    }
  }

  async expectSubscribers(step) {
    const timeoutMs = step.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
      if (step.channels) {
        // Through the client, with its credentials: on a server limited to signed-in users the
        // list is not public.
        const channels = step.channels.map((c) => this.text(c));
        last = (await this.client(step.client).getSubscribers(channels)).length;
      } else {
        last = (await this.client(step.client).getChannelSubscribers()).length;
      }
      if (last === step.count || Date.now() >= deadline) break;
      // The server's state changes asynchronously (unregisters, expiries): poll it.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (last !== step.count) {
      fail(`${step.client}: the server lists ${last} subscribers, expected ${step.count} (waited ${timeoutMs} ms)`);
    }
  }

  /** Starts the SDK's wait now (registered before the next step) and keeps its outcome. */
  waitNext(step) {
    const client = this.client(step.client);
    const convert = {
      message: (m) => messageFields(m),
      command: (e) => ({ ...commandFields(e), kind: COMMAND_KINDS[e.type] ?? e.type }),
      heartbeat: (e) => ({ userId: e.userId, displayName: e.displayName }),
    }[step.kind];
    const start = {
      message: () => client.waitForNextMessage(step.timeoutMs),
      command: () => client.waitForNextCommand(step.timeoutMs),
      heartbeat: () => client.waitForNextHeartbeat(step.timeoutMs),
    }[step.kind];
    if (!start) fail(`wait_next cannot wait for ${step.kind}`);
    if (this.waits.has(step.wait)) fail(`the wait ${step.wait} was started twice`);
    const outcome = start().then(
      (value) => ({ fields: convert(value) }),
      (error) => ({ error }),
    );
    this.waits.set(step.wait, { timeoutMs: step.timeoutMs, outcome });
  }

  async waitResult(step) {
    const wait = this.waits.get(step.wait);
    if (!wait) fail(`no running wait named ${step.wait}`);
    this.waits.delete(step.wait);
    // The SDK's own timeout ends the wait; the extra time only guards against a hang.
    const { fields, error } = await withTimeout(wait.outcome, wait.timeoutMs + DEFAULT_TIMEOUT_MS, `the wait ${step.wait}`);
    if (error !== undefined || step.expectError) return this.checkOutcome(step.wait, error ?? null, step.expectError);
    const matcher = this.value(step.match ?? {});
    if (!matches(fields, matcher)) fail(`the wait ${step.wait} ended with ${describe(fields)}, which does not match ${describe(matcher)}`);
  }

  assertGaps(step) {
    const client = this.testClient(step.client);
    const matcher = this.value(step.match ?? {});
    const times = this.filter(client, step.kind, matcher).map((i) => client.events[i].at);
    if (times.length < 2) fail(`${step.client}: ${times.length} ${step.kind} events match ${describe(matcher)}, at least 2 are needed to measure a gap`);
    const gaps = times.slice(1).map((t, i) => Math.round(t - times[i]));
    if (!gaps.every((gap) => gap >= step.minMs && gap <= step.maxMs)) {
      fail(`${step.client}: the gaps between ${step.kind} events are ${describe(gaps)} ms, expected each within ${step.minMs}..${step.maxMs} ms`);
    }
  }

  async serviceGet(step) {
    let error = null;
    try {
      await withTimeout(this.client(step.client).get(this.text(step.path)), DEFAULT_TIMEOUT_MS, `${step.client}: GET ${step.path}`);
    } catch (e) {
      if (e instanceof StepError) throw e;
      error = e;
    }
    return this.checkOutcome(step.client, error, step.expectError);
  }

  assertClient(step) {
    const client = this.client(step.client);
    const problems = [];
    const check = (what, actual, expected) => {
      if (describe(actual) !== describe(expected)) problems.push(`${what} is ${describe(actual)}, expected ${describe(expected)}`);
    };
    if (step.channels !== undefined) check("channels", client.channels, step.channels.map((c) => this.text(c)));
    if (step.streamUrlEndsWith !== undefined && !client.eventStreamUri.endsWith(this.text(step.streamUrlEndsWith))) {
      problems.push(`the stream URL ${client.eventStreamUri} does not end with ${step.streamUrlEndsWith}`);
    }
    if (step.connected !== undefined) check("connected", client.hasConnected(), step.connected);
    if (step.state !== undefined) check("state", client.state, step.state);
    if (step.timesStarted !== undefined) check("timesStarted", client.timesStarted, step.timesStarted);
    if (step.withCredentials !== undefined) {
      check("withCredentials", client.withCredentials, step.withCredentials);
      check("getEventSourceOptions().withCredentials", client.getEventSourceOptions().withCredentials, step.withCredentials);
    }
    if (problems.length > 0) fail(`${step.client}: ${problems.join("; ")}`);
  }

  frameBytes(step) {
    const encoder = new TextEncoder();
    const one = (part) => {
      if (part.text !== undefined && part.base64 === undefined) return encoder.encode(this.text(part.text));
      if (part.base64 !== undefined && part.text === undefined) {
        return Uint8Array.from(atob(part.base64), (c) => c.charCodeAt(0));
      }
      fail("a frame part needs exactly one of text and base64");
    };
    const pieces = [];
    for (const part of step.parts ?? [step]) {
      const piece = one(part);
      for (let i = 0; i < (part.repeat ?? 1); i++) pieces.push(piece);
    }
    const bytes = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const piece of pieces) {
      bytes.set(piece, offset);
      offset += piece.length;
    }
    return bytes;
  }

  async step(step) {
    switch (step.op) {
      case "client": {
        if (this.clients.has(step.id)) fail(`client ${step.id} exists already`);
        this.clients.set(step.id, new TestClient(step.id, this.lib, step, this));
        return;
      }
      case "connect": {
        let error = null;
        try {
          await withTimeout(this.client(step.client).connect(), step.timeoutMs ?? DEFAULT_TIMEOUT_MS * 2, `${step.client}.connect()`);
        } catch (e) {
          if (e instanceof StepError) throw e;
          error = e;
        }
        return this.checkOutcome(step.client, error, step.expectError);
      }
      case "start":
        await this.client(step.client).start();
        return;
      case "stop":
        await withTimeout(this.client(step.client).stop(), 10000, `${step.client}.stop()`);
        return;
      case "restart":
        this.client(step.client).restart();
        return;
      case "pause":
        this.client(step.client).pause();
        return;
      case "resume":
        this.client(step.client).resume();
        return;
      case "set_channels":
        this.client(step.client).updateChannels(step.channels.map((c) => this.text(c)));
        return;
      case "subscribe":
        await this.client(step.client).subscribeToChannels(...step.channels.map((c) => this.text(c)));
        return;
      case "unsubscribe":
        await this.client(step.client).unsubscribeFromChannels(...step.channels.map((c) => this.text(c)));
        return;
      case "authenticate": {
        let error = null;
        try {
          await this.client(step.client).authenticate(this.text(step.user), this.text(step.password));
        } catch (e) {
          error = e;
        }
        return this.checkOutcome(step.client, error, step.expectError);
      }
      case "post_chat": {
        const channel = this.text(step.channel ?? "*");
        const body = {
          from: this.subscriptionId(step.from),
          channel,
          message: this.text(step.message),
          selector: this.text(step.selector ?? "cmd.chat"),
        };
        if (step.toUserId !== undefined) body.toUserId = this.text(step.toUserId);
        return this.postService(step.from, `/channels/${encodeURIComponent(channel)}/chat`, body);
      }
      case "post_raw": {
        const channel = this.text(step.channel ?? "*");
        const body = { from: this.subscriptionId(step.from), channel, selector: this.text(step.selector) };
        if (step.message !== undefined && step.message !== null) body.message = this.text(step.message);
        return this.postService(step.from, `/channels/${encodeURIComponent(channel)}/raw`, body);
      }
      case "post_object": {
        const channel = this.text(step.channel ?? "*");
        const body = { channel };
        if (step.selector !== undefined) body.selector = this.text(step.selector);
        if (step.customType !== undefined) body.customType = this.value(step.customType);
        if (step.setterType !== undefined) body.setterType = this.value(step.setterType);
        await this.httpOk("POST", `${this.baseUrl}/channels/${encodeURIComponent(channel)}/object`, body);
        return;
      }
      case "reset_server":
        await this.httpOk("POST", `${this.baseUrl}/reset-serverevents`, {});
        return;
      case "http": {
        const url = this.text(step.url);
        const body = step.body === undefined ? undefined : this.value(step.body);
        const reply = await this.http(step.method, url, body);
        const expected = step.expectStatus;
        const ok =
          expected === undefined || expected === "2xx"
            ? reply.status >= 200 && reply.status < 300
            : expected === "error"
              ? reply.status < 200 || reply.status >= 300
              : reply.status === expected;
        if (!ok) fail(`${step.method} ${url} answered ${reply.status} (expected ${expected ?? "2xx"}): ${reply.text}`);
        return;
      }
      case "fault":
        await this.httpOk("POST", `${this.baseUrl}/test/faults`, this.value(step.set));
        return;
      case "raw_frame": {
        const id = this.subscriptionId(step.client);
        await this.httpOk("POST", `${this.baseUrl}/test/raw?id=${encodeURIComponent(id)}`, this.frameBytes(step));
        return;
      }
      case "crash_node": {
        const id = this.subscriptionId(step.client);
        await this.httpOk("POST", `${this.baseUrl}/test/crash-node?id=${encodeURIComponent(id)}`);
        return;
      }
      case "remove_listener": {
        const listener = this.testClient(step.client).listeners.get(step.name)?.[step.index];
        if (!listener) fail(`${step.client} has no listener ${step.name}[${step.index}]`);
        this.client(step.client).removeListener(step.name, listener);
        return;
      }
      case "expect":
        return this.expect(step);
      case "expect_count":
        return this.expectCount(step, true);
      case "assert_count":
        return this.expectCount(step, false);
      case "expect_subscribers":
        return this.expectSubscribers(step);
      case "assert_client":
        return this.assertClient(step);
      case "service_get":
        return this.serviceGet(step);
      case "wait_next":
        return this.waitNext(step);
      case "wait_result":
        return this.waitResult(step);
      case "register_handler": {
        const client = this.testClient(step.client);
        client.client.registerHandler(step.name, client.recordingHandler(step.name));
        return;
      }
      case "remove_handler":
        this.client(step.client).unregisterHandler(step.name);
        return;
      case "register_receiver": {
        const client = this.testClient(step.client);
        const Class = client.classes[step.class];
        if (!Class) fail(`unknown receiver class ${step.class}`);
        client.client.registerNamedReceiver(step.name, Class);
        return;
      }
      case "unregister_receiver":
        this.client(step.client).unregisterReceiver(step.name);
        return;
      case "add_listener":
        this.testClient(step.client).addListener(step.name);
        return;
      case "remove_all_registrations":
        this.client(step.client).removeAllRegistrations();
        return;
      case "assert_gaps":
        return this.assertGaps(step);
      case "concurrent": {
        const runs = [];
        for (let i = 0; i < step.times; i++) runs.push(this.step(step.step));
        await Promise.all(runs);
        return;
      }
      default:
        fail(`unknown step op ${step.op}`);
    }
  }

  async finish() {
    const closing = [...this.clients.values()].map((c) => c.close().catch(() => {}));
    await Promise.all(closing);
  }

  describeClients() {
    return [...this.clients.values()]
      .map((c) => `${c.name}: ${c.events.map((e) => e.kind).join(",")}`)
      .join(" | ");
  }
}

/** Whether this leg can run `scenario` (every op supported). */
export function unsupportedOps(scenario) {
  const ops = new Set();
  const visit = (step) => {
    if (UNSUPPORTED.has(step.op)) ops.add(step.op);
    if (step.step) visit(step.step);
  };
  scenario.steps.forEach(visit);
  return [...ops];
}

/**
 * Runs `scenario` against the server at `baseUrl` with the package `lib`; resolves with
 * `{ ok, error?, step?, ms }` and never rejects.
 */
export async function runScenario(lib, scenario, { baseUrl, fetchImpl = globalThis.fetch.bind(globalThis) }) {
  const started = Date.now();
  const run = new ScenarioRun(lib, baseUrl, fetchImpl);
  let index = 0;
  try {
    const unsupported = unsupportedOps(scenario);
    if (unsupported.length > 0) fail(`this leg cannot run ${unsupported.join(", ")}`);
    for (; index < scenario.steps.length; index++) {
      await run.step(scenario.steps[index]);
    }
    await run.finish();
    return { ok: true, ms: Date.now() - started };
  } catch (error) {
    const step = scenario.steps[index];
    const message = error instanceof StepError ? error.message : `${error?.name ?? "Error"}: ${error?.message ?? error}\n${error?.stack ?? ""}`;
    const clients = run.describeClients();
    await run.finish();
    return {
      ok: false,
      ms: Date.now() - started,
      error: `step ${index + 1} ${describe(step)}: ${message}\n    events: ${clients}`,
    };
  }
}
