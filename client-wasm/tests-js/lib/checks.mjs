// The package's own checks, beyond the shared conformance scenarios: its JavaScript API
// (errors, option checking, chaining, message objects like @servicestack/client's), credentials
// (withCredentials, bearer tokens) and what it does in a page (css, DOM receivers, `this` of
// handlers, unregistering on pagehide). Each runs in the legs listed, against a fresh server.

class CheckError extends Error {}

function assert(condition, message) {
  if (!condition) throw new CheckError(message);
}

function equal(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  assert(a === e, `${what}: got ${a}, expected ${e}`);
}

/** Waits for `condition()` to hold (polling), failing after `timeoutMs`. */
async function until(condition, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new CheckError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function throws(fn, check, what) {
  try {
    fn();
  } catch (error) {
    check(error);
    return;
  }
  throw new CheckError(`${what} did not throw`);
}

async function rejects(promise, check, what) {
  try {
    await promise;
  } catch (error) {
    check(error);
    return;
  }
  throw new CheckError(`${what} did not reject`);
}

async function rawFrame(baseUrl, client, text) {
  const response = await fetch(`${baseUrl}/test/raw?id=${client.getSubscriptionId()}`, { method: "POST", body: text });
  assert(response.ok, `POST /test/raw answered ${response.status}`);
}

async function authenticate(baseUrl) {
  const response = await fetch(`${baseUrl}/auth/credentials`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ userName: "user", password: "pass" }),
  });
  assert(response.ok, `POST /auth/credentials answered ${response.status}`);
  return response.json();
}

/** name → { legs, server, run(lib, { baseUrl, leg }) } */
export const CHECKS = {
  api_errors_options_and_chaining: {
    legs: ["wasm", "node"],
    server: "default",
    async run(lib, { baseUrl }) {
      const { ServerEventsClient } = lib;
      throws(
        () => new ServerEventsClient("localhost:5000", ["A"]),
        (e) => {
          equal([e.name, e.kind, e.status], ["InvalidUrlError", "invalidUrl", null], "bad URL error");
        },
        "a URL without a scheme",
      );
      throws(
        () => new ServerEventsClient(baseUrl, ["a@b"]),
        (e) => equal([e.name, e.kind], ["InvalidArgumentError", "invalidArgument"], "bad channel error"),
        "a channel with @",
      );
      for (const [options, what] of [
        [{ handlers: 5 }, "handlers: 5"],
        [{ handlers: { chat: "no" } }, "a handler that is not a function"],
        [{ withCredentials: "yes" }, "withCredentials: 'yes'"],
        [{ receivers: { cmd: 3 } }, "a receiver that is a number"],
        [{ reconnect: "sometimes" }, "reconnect: 'sometimes'"],
        [{ heartbeatIntervalMs: -1 }, "a negative interval"],
        [{ headers: { "X-A": 1 } }, "a header that is not a string"],
        [{ connectTimeoutMs: 1.5 }, "a fractional timeout"],
        [{ reconnect: { delay: 5 } }, "a reconnect object without delayMs or initialMs"],
        [{ reconnect: { delayMs: 5, initialMs: 5 } }, "a reconnect object that is both fixed and exponential"],
        [{ eventStreamPath: 5 }, "a path that is a number"],
        [{ channels: "a" }, "options.channels that is not an array"],
        [{ messageBuffer: 2 ** 53 }, "a buffer size past the safe integers"],
        // Outside the declared types: refused, never read as empty.
        [{ headers: new Map([["X-A", "1"]]) }, "headers as a Map"],
        [{ headers: [["X-A", "1"]] }, "headers as an array of pairs"],
        [{ allowedOrigins: new Set(["http://127.0.0.2"]) }, "allowedOrigins as a Set"],
        [{ connectTimeoutMs: 5000n }, "a BigInt timeout"],
        ["options", "options that are a string"],
      ]) {
        throws(
          () => new ServerEventsClient(baseUrl, ["A"], options),
          (e) => assert(e instanceof TypeError, `${what}: ${e} is not a TypeError`),
          what,
        );
      }
      // A null-prototype object is a plain object too.
      const headers = Object.create(null);
      headers["X-A"] = "1";
      new ServerEventsClient(baseUrl, ["A"], { headers });
      // The platform's URL parser turns international names into punycode before the core sees
      // them (the module carries no Unicode IDNA tables).
      const idn = new ServerEventsClient("http://BÜCHER.example:8080/api/", ["A"]);
      equal(idn.baseUrl, "http://xn--bcher-kva.example:8080/api", "an international host name");
      throws(
        () => new ServerEventsClient(baseUrl, [3]),
        (e) => assert(e instanceof TypeError, `a channel that is a number: ${e}`),
        "a channel that is a number",
      );

      const seen = [];
      const client = new ServerEventsClient(baseUrl, "A,B", { handlers: { onConnect: (e) => seen.push(e.id) } });
      equal(client.channels, ["A", "B"], "channels from a comma-separated string");
      equal(client.state, "idle", "state before start");
      throws(
        () => client.getConnectionInfo(),
        (e) => equal([e.name, e.kind], ["NotConnectedError", "notConnected"], "getConnectionInfo before connect"),
        "getConnectionInfo before connect",
      );
      const listener = () => {};
      assert(client.addListener("x", listener) === client, "addListener returns the client");
      assert(client.removeListener("x", listener) === client, "removeListener returns the client");
      assert(client.registerHandler("chat", () => {}) === client, "registerHandler returns the client");
      assert(client.registerReceiver({}) === client, "registerReceiver returns the client");
      assert(client.registerNamedReceiver("tv", {}) === client, "registerNamedReceiver returns the client");
      assert(client.unregisterReceiver("tv") === client, "unregisterReceiver returns the client");
      assert(client.setResolver(new lib.NewInstanceResolver()) === client, "setResolver returns the client");
      throws(() => client.registerReceiver(5), (e) => assert(e instanceof TypeError, `${e}`), "registerReceiver(5)");
      assert((await client.start()) === client, "start() resolves with the client");
      const info = await client.connect();
      assert(typeof info.id === "string" && info.id.length > 0, "connect() resolves with the subscription");
      equal(seen, [info.id], "onConnect ran once");
      equal(client.getSubscriptionId(), info.id, "getSubscriptionId()");
      assert(client.hasConnected(), "hasConnected()");
      await client.subscribeToChannels("C", ["D"]);
      equal(client.channels, ["A", "B", "C", "D"], "channels after a variadic subscribeToChannels");
      await client.unsubscribeFromChannels("B", "D");
      equal(client.channels, ["A", "C"], "channels after unsubscribeFromChannels");
      await client.updateSubscriber({ subscribeChannels: ["E"], unsubscribeChannels: "A" });
      equal(client.channels, ["C", "E"], "channels after updateSubscriber");
      const listed = await client.get("/event-subscribers?channels=C");
      assert(Array.isArray(listed) && listed.length === 1, `get() parses JSON: ${JSON.stringify(listed)}`);
      await rejects(client.get("/no-such-route"), (e) => equal([e.name, e.status, e.retryAfterMs], ["HttpError", 404, null], "get() of a missing route"), "get(/no-such-route)");
      // A refusal with Retry-After (readable cross-origin: the server exposes the header).
      const faults = await fetch(`${baseUrl}/test/faults`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ failStreams: { status: 503, count: 1, retryAfter: 3 } }) });
      assert(faults.ok, `POST /test/faults answered ${faults.status}`);
      await rejects(client.get("/event-stream"), (e) => equal([e.status, e.retryAfterMs], [503, 3000], "Retry-After on an HttpError"), "get(/event-stream) refused");
      const users = await client.getChannelSubscribers();
      equal(users.length, 1, "getChannelSubscribers()");
      equal(users[0].channels, ["C", "E"], "a subscriber's channels (an array)");
      await rejects(client.subscribeToChannels("x@y"), (e) => equal(e.kind, "invalidArgument", "subscribe error"), "subscribing to x@y");
      await client.stop();
      equal(client.state, "closed", "state after stop");
      assert(!client.hasConnected(), "not connected after stop");
    },
  },

  reconnect_policy_and_stream_url_options: {
    legs: ["wasm", "node"],
    server: "default",
    async run(lib, { baseUrl }) {
      const states = [];
      const client = new lib.ServerEventsClient(baseUrl, ["home"], {
        reconnect: "never",
        resolveStreamUrl: (url) => `${url}&tag=resolved`,
        onStateChange: (state) => states.push(state),
        onException: () => {},
      });
      assert(client.eventStreamUri.endsWith("?channels=home&tag=resolved"), `resolveStreamUrl: ${client.eventStreamUri}`);
      await client.connect();
      const response = await fetch(`${baseUrl}/test/disconnect-all`, { method: "POST" });
      assert(response.ok, "disconnect-all");
      const closed = await until(() => states.find((s) => s.state === "closed"), "the client to give up");
      equal(closed.reason, "gaveUp", "reason with reconnect: 'never'");
      equal(client.state, "closed", "state");
      const fixed = new lib.ServerEventsClient(baseUrl, ["home"], { reconnect: { delayMs: 50 }, onException: () => {} });
      const first = await fixed.connect();
      await fetch(`${baseUrl}/test/disconnect-all`, { method: "POST" });
      await until(() => fixed.hasConnected() && fixed.getSubscriptionId() !== first.id, "a reconnect with a fixed delay");
      await fixed.stop();
    },
  },

  message_objects_like_typescript: {
    legs: ["wasm", "node"],
    server: "default",
    async run(lib, { baseUrl }) {
      const messages = [];
      const joins = [];
      const client = new lib.ServerEventsClient(baseUrl, ["home"], {
        handlers: { onMessage: (m) => messages.push(m), onJoin: (e) => joins.push(e) },
      });
      const info = await client.connect();
      equal(info.type, "ServerEventConnect", "connect type");
      equal(typeof info.heartbeatIntervalMs, "number", "heartbeatIntervalMs type");
      equal(info.channels, "home", "connect channels (comma-separated string)");
      const join = await until(() => joins[0], "the join");
      equal(
        [join.type, join.channel, typeof join.isAuthenticated, join.meta.userId, join.selector, join.op, join.target],
        ["ServerEventJoin", "home", "boolean", info.userId, "cmd.onJoin", "cmd", "onJoin"],
        "join object",
      );
      await rawFrame(baseUrl, client, 'id: 77\ndata: home@cmd.obj$#x {"channel":"other","x":1}\n\n');
      const m = await until(() => messages.find((x) => x.selector === "cmd.obj$#x"), "the message");
      equal(
        [m.type, m.eventId, m.channel, m.op, m.target, m.cssSelector, m.x, m.body.channel, m.json, m.data, m.meta],
        ["ServerEventMessage", 77, "home", "cmd", "obj", "#x", 1, "other", '{"channel":"other","x":1}',
          'home@cmd.obj$#x {"channel":"other","x":1}', {}],
        "message object (envelope fields win over the body's)",
      );
      await rawFrame(baseUrl, client, "data: cmd.with%20space$.a%20.b \"v\"\n\n");
      const spaced = await until(() => messages.find((x) => x.target === "with space"), "the %20 message");
      equal([spaced.selector, spaced.cssSelector, spaced.body], ["cmd.with%20space$.a%20.b", ".a .b", "v"], "%20 in the target and the css selector");
      await client.stop();
    },
  },

  async_iterator_and_callback_failures: {
    legs: ["wasm", "node"],
    server: "default",
    async run(lib, { baseUrl }) {
      const errors = [];
      const client = new lib.ServerEventsClient(baseUrl, ["home"], {
        handlers: {
          slow: async (body) => {
            await Promise.resolve();
            throw new Error(`async ${body}`);
          },
        },
        onException: (e) => errors.push(e),
      });
      client.addListener("boom", () => {
        throw new RangeError("listener boom");
      });
      const stream = client.messages();
      const info = await client.connect();
      for (const selector of ["cmd.slow", "trigger.boom", "cmd.third"]) {
        await rawFrame(baseUrl, client, `data: home@${selector} "${selector}"\n\n`);
      }
      const seen = [];
      for await (const message of stream) {
        seen.push(message.selector);
        if (seen.length === 3) break;
      }
      equal(seen, ["cmd.slow", "trigger.boom", "cmd.third"], "messages() in order");
      const failures = await until(() => (errors.length >= 2 ? errors : null), "two HandlerFailedErrors");
      const rejected = failures.find((e) => e.cause?.message === "async cmd.slow");
      const thrown = failures.find((e) => e.cause instanceof RangeError);
      assert(rejected && rejected.name === "HandlerFailedError" && rejected.kind === "handlerFailed", `async rejection: ${failures.map(String)}`);
      assert(thrown && thrown.message.includes("trigger.boom"), `listener throw: ${failures.map(String)}`);
      equal((await stream.next()).done, true, "the iterator is done after break");
      assert(info.id === client.getSubscriptionId(), "still connected on the same subscription");
      await client.stop();
    },
  },

  message_buffer_bounds_the_iterator: {
    legs: ["wasm", "node"],
    server: "default",
    async run(lib, { baseUrl }) {
      const errors = [];
      let delivered = 0;
      const client = new lib.ServerEventsClient(baseUrl, ["home"], {
        messageBuffer: 3,
        allowedOrigins: ["http://127.0.0.2:1"],
        handlers: { onMessage: () => delivered++ },
        onException: (e) => errors.push(e),
      });
      const stream = client.messages();
      await client.connect();
      for (let i = 0; i < 8; i++) {
        await rawFrame(baseUrl, client, `data: home@cmd.n ${i}\n\n`);
      }
      await until(() => (delivered === 8 ? true : null), "every message reaches onMessage");
      const kept = [];
      for await (const message of stream) {
        kept.push(message.body);
        if (kept.length === 3) break;
      }
      equal(kept, [5, 6, 7], "the newest messageBuffer messages are kept");
      equal(errors.map((e) => [e.kind, e.message.includes("3 unread")]), [["messagesDropped", true]], "reported once");
      await client.stop();
      let refused = null;
      try {
        new lib.ServerEventsClient(baseUrl, ["home"], { allowedOrigins: "http://127.0.0.2" });
      } catch (e) {
        refused = e;
      }
      assert(refused instanceof TypeError, `allowedOrigins must be an array: ${refused}`);
    },
  },

  bearer_token_authenticates_the_stream: {
    legs: ["wasm", "node"],
    server: "auth",
    async run(lib, { baseUrl }) {
      const { bearerToken } = await authenticate(baseUrl);
      assert(typeof bearerToken === "string" && bearerToken.length > 0, "the server returned a bearer token");
      const anonymous = new lib.ServerEventsClient(baseUrl, ["home"], { withCredentials: false, onException: () => {} });
      await rejects(anonymous.connect(), (e) => equal([e.kind, e.status], ["unauthorized", 401], "without a token"), "connect without a token");
      const client = new lib.ServerEventsClient(baseUrl, ["home"], { bearerToken, withCredentials: false });
      const info = await client.connect();
      equal(info.isAuthenticated, true, "authenticated with the bearer token");
      let asked = 0;
      const provided = new lib.ServerEventsClient(baseUrl, ["home"], {
        withCredentials: false,
        getCredentials: async () => {
          asked++;
          return { headers: { Authorization: `Bearer ${bearerToken}` } };
        },
      });
      equal((await provided.connect()).isAuthenticated, true, "authenticated through getCredentials");
      assert(asked >= 1, "getCredentials was asked");
      await Promise.all([client.stop(), provided.stop()]);
    },
  },

  with_credentials_controls_cookies: {
    legs: ["wasm"],
    server: "auth",
    async run(lib, { baseUrl }) {
      // The page and the server are different origins, as in a real cross-origin deployment.
      assert(new URL(baseUrl).origin !== location.origin, "the server is cross-origin");
      const signIn = new lib.ServerEventsClient(baseUrl, ["home"]);
      equal(signIn.getEventSourceOptions(), { withCredentials: true }, "default getEventSourceOptions()");
      await signIn.authenticate("user", "pass");
      const withCookies = new lib.ServerEventsClient(baseUrl, ["home"]);
      equal((await withCookies.connect()).isAuthenticated, true, "the session cookie reached the stream");
      const without = new lib.ServerEventsClient(baseUrl, ["home"], { withCredentials: false, onException: () => {} });
      equal(without.withCredentials, false, "withCredentials option");
      await rejects(without.connect(), (e) => equal([e.kind, e.status], ["unauthorized", 401], "withCredentials: false"), "connect without cookies");
      await withCookies.stop();
    },
  },

  page_css_dom_receivers_and_this: {
    legs: ["wasm"],
    server: "default",
    async run(lib, { baseUrl }) {
      const top = document.getElementById("top");
      const channels = document.getElementById("channels");
      const thisOfToggle = [];
      const client = new lib.ServerEventsClient(baseUrl, ["home"], {
        handlers: {
          toggle: function () {
            thisOfToggle.push(this);
          },
        },
        receivers: { document },
      });
      const originalTitle = document.title;
      await client.connect();
      await rawFrame(baseUrl, client, 'data: home@document.title "Remote title"\n\n');
      await rawFrame(baseUrl, client, 'data: home@css.background-color$#top "rgb(1, 2, 3)"\n\n');
      await rawFrame(baseUrl, client, 'data: home@css.color$#top,#channels "rgb(4, 5, 6)"\n\n');
      await rawFrame(baseUrl, client, 'data: home@css.visibility$body%20#top "hidden"\n\n');
      await rawFrame(baseUrl, client, "data: home@cmd.toggle$#channels \n\n");
      await until(() => thisOfToggle.length === 1, "the toggle handler");
      equal(top.style.visibility, "hidden", "css.visibility$body%20#top (%20 decoded before the selector is used)");
      top.style.visibility = "";
      equal(document.title, "Remote title", "document.title set by the document receiver");
      equal(top.style.backgroundColor, "rgb(1, 2, 3)", "css.background-color$#top");
      equal([top.style.color, channels.style.color], ["rgb(4, 5, 6)", "rgb(4, 5, 6)"], "css on every matching element");
      assert(thisOfToggle[0] === channels, "a handler's `this` is the element of its $css selector");
      document.title = originalTitle;
      await client.stop();
    },
  },

  trigger_raises_a_dom_event: {
    legs: ["wasm"],
    server: "default",
    async run(lib, { baseUrl }) {
      const top = document.getElementById("top");
      const onDocument = [];
      const onTop = [];
      const record = (list) => (event) => list.push({ target: event.target, currentTarget: event.currentTarget, detail: event.detail });
      const documentListener = record(onDocument);
      const topListener = record(onTop);
      document.addEventListener("customEvent", documentListener);
      top.addEventListener("customEvent", topListener);
      const client = new lib.ServerEventsClient(baseUrl, ["home"]);
      try {
        await client.connect();
        await rawFrame(baseUrl, client, 'data: home@trigger.customEvent {"a":1}\n\n');
        await until(() => onDocument.length === 1, "the customEvent on document");
        equal(onTop.length, 0, "no event on #top without a $selector");
        const [first] = onDocument;
        assert(first.target === document, "the event is raised on document without a $selector");
        equal(first.detail.message, { a: 1 }, "detail.message is the parsed body");
        equal([first.detail.event.selector, first.detail.event.json], ["trigger.customEvent", '{"a":1}'], "detail.event is the message");
        await rawFrame(baseUrl, client, 'data: home@trigger.customEvent$#top "at top"\n\n');
        await until(() => onTop.length === 1 && onDocument.length === 2, "the customEvent on #top, bubbling to document");
        assert(onTop[0].target === top, "the event is raised on the $selector's element");
        equal(onTop[0].detail.message, "at top", "detail.message of the $selector event");
      } finally {
        document.removeEventListener("customEvent", documentListener);
        top.removeEventListener("customEvent", topListener);
        await client.stop();
      }
    },
  },

  success_callback_after_every_message: {
    legs: ["wasm", "node"],
    server: "default",
    async run(lib, { baseUrl }) {
      const calls = [];
      const order = [];
      const client = new lib.ServerEventsClient(baseUrl, ["home"], {
        handlers: { announce: (text) => order.push(`handler:${text}`) },
        success: (selector, message, json) => {
          calls.push([selector, message, json]);
          order.push(`success:${selector}`);
        },
      });
      try {
        await client.connect();
        await rawFrame(baseUrl, client, 'data: home@cmd.announce "hi"\n\n');
        await rawFrame(baseUrl, client, 'data: home@custom.thing {"n":2}\n\n');
        await until(() => calls.length === 2, "success for both messages");
        equal(calls, [["cmd.announce", "hi", '"hi"'], ["custom.thing", { n: 2 }, '{"n":2}']], "success(selector, message, json)");
        equal(order.slice(0, 2), ["handler:hi", "success:cmd.announce"], "success runs after the handler");
        throws(
          () => new lib.ServerEventsClient(baseUrl, ["home"], { success: "yes" }),
          (e) => equal(e.name, "TypeError", "a success that is not a function"),
          "success: a string",
        );
      } finally {
        await client.stop();
      }
    },
  },

  handler_this_defaults_to_document_body: {
    legs: ["wasm"],
    server: "default",
    async run(lib, { baseUrl }) {
      const thisOf = [];
      const client = new lib.ServerEventsClient(baseUrl, ["home"], {
        handlers: {
          announce: function (text) {
            thisOf.push([text, this]);
          },
        },
      });
      try {
        await client.connect();
        await rawFrame(baseUrl, client, 'data: home@cmd.announce "plain"\n\n');
        await rawFrame(baseUrl, client, 'data: home@cmd.announce$#top "selected"\n\n');
        await until(() => thisOf.length === 2, "both announcements");
        assert(thisOf[0][1] === document.body, "`this` is document.body without a $selector");
        assert(thisOf[1][1] === document.getElementById("top"), "`this` is the $selector's element");
      } finally {
        await client.stop();
      }
    },
  },

  receiver_unknown_member_becomes_a_property: {
    legs: ["wasm", "node"],
    server: "default",
    async run(lib, { baseUrl }) {
      const calls = [];
      const receiver = { known: (body) => calls.push(body) };
      const client = new lib.ServerEventsClient(baseUrl, ["home"], { receivers: { test: receiver } });
      try {
        await client.connect();
        await rawFrame(baseUrl, client, 'data: home@test.QuxTarget {"id":7}\n\n');
        await rawFrame(baseUrl, client, 'data: home@test.known "called"\n\n');
        await until(() => calls.length === 1, "the known member");
        equal(receiver.QuxTarget, { id: 7 }, "test.QuxTarget sets receiver.QuxTarget");
        equal(calls, ["called"], "a method is still called");
      } finally {
        await client.stop();
      }
    },
  },

  pagehide_unregisters_with_a_beacon: {
    legs: ["wasm"],
    server: "default",
    async run(lib, { baseUrl }) {
      const beacons = [];
      const original = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = (url, data) => {
        beacons.push(url);
        return original(url, data);
      };
      try {
        const client = new lib.ServerEventsClient(baseUrl, ["home"]);
        const info = await client.connect();
        const optOut = new lib.ServerEventsClient(baseUrl, ["home"], { unregisterOnUnload: false });
        await optOut.connect();
        window.dispatchEvent(new PageTransitionEvent("pagehide", { persisted: false }));
        equal(beacons, [info.unRegisterUrl], "sendBeacon(unRegisterUrl) on pagehide, only for the client that wants it");
        await until(() => client.state === "closed", "the client to stop");
        await until(async () => {
          const users = await (await fetch(`${baseUrl}/event-subscribers?channels=home`)).json();
          return users.length === 1;
        }, "the subscription to be unregistered");
        await optOut.stop();
      } finally {
        navigator.sendBeacon = original;
      }
    },
  },
};

/** Runs one check; resolves with `{ ok, error?, ms }` and never rejects. */
export async function runCheck(lib, name, context) {
  const started = Date.now();
  try {
    const check = CHECKS[name];
    if (!check) throw new CheckError(`no check named ${name}`);
    await check.run(lib, context);
    return { ok: true, ms: Date.now() - started };
  } catch (error) {
    const message = error instanceof CheckError ? error.message : `${error?.name}: ${error?.message}\n${error?.stack}`;
    return { ok: false, ms: Date.now() - started, error: message };
  }
}
