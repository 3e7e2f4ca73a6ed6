// A Chat app on the npm package, after ServiceStack's Chat: anonymous or signed-in use, any
// channel, private messages (`@user text`, `@me`), a raw selector per message (`/cmd.announce
// Hi`, `@user /tv.watch URL`), command history (up/down), `@name` completion (Tab), mentions,
// messages grouped by sender, a live subscriber list, the remote controls of controls.js, and the
// channel's history on joining.
//
// Served by the reference server: `cargo xtask chat` (or `test-server --static-dir client-wasm`
// after `cargo xtask wasm`), then open http://127.0.0.1:PORT/demo/ (add ?channels=home,lobby).

import init, { ServerEventsClient } from "servicestack-server-events";

import { InputHistory, complete, completions, parseInput } from "./compose.js";
import { remoteControls } from "./controls.js";

const $ = (selector) => document.querySelector(selector);
const log = $("#log");
const input = $("#message");
const HELP = [
  "text: to the channel · @name text: only to name · @me text: to yourself",
  "/cmd.announce text · /cmd.toggle$#channels · /css.background-color$#top teal · /document.title text",
  "/cmd.redirect URL · /tv.watch URL · /tv.off · /cmd.image URL · /trigger.customEvent data",
  "put @name or @me in front of a /selector to send it to one user · /join channel · /leave [channel]",
  "keys: Enter sends · ↑/↓ history · Tab completes @names · Esc clears",
];

let active = null;
let me = null;
let users = [];
const seenChats = new Set();

// ---- the chat log ---------------------------------------------------------------------------

/** Appends (or with `{ before }` inserts) an entry for `channel` (`*`: every channel). */
function entry(kind, parts, { channel = "*", user = null, before = null } = {}) {
  const div = document.createElement("div");
  div.className = `entry ${kind}`;
  div.dataset.channel = channel;
  if (user) div.dataset.user = user;
  const time = document.createElement("time");
  time.textContent = new Date().toLocaleTimeString();
  div.append(time);
  for (const part of parts) {
    if (part instanceof Node) {
      div.append(part);
    } else if (Array.isArray(part)) {
      const span = document.createElement("span");
      span.className = part[0];
      span.append(part[1]);
      div.append(span);
    } else {
      div.append(part);
    }
  }
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
  if (before) log.insertBefore(div, before);
  else log.append(div);
  arrange();
  if (stick || !before) log.scrollTop = log.scrollHeight;
  return div;
}

function system(text, channel = "*") {
  return entry("system", [text], { channel });
}

function showError(text) {
  return entry("error", [text]);
}

/** Shows the active channel's entries and groups consecutive chats by the same sender. */
function arrange() {
  let previous = null;
  for (const div of log.children) {
    div.hidden = !(div.dataset.channel === "*" || div.dataset.channel === active);
    if (div.hidden) continue;
    const chat = div.classList.contains("chat");
    div.classList.toggle("continued", chat && previous?.classList.contains("chat") && previous.dataset.user === div.dataset.user);
    previous = div;
  }
}

/** The message text, with `@names` marked and mentions of this user highlighted. */
function messageText(text) {
  const span = document.createElement("span");
  span.className = "text";
  let mentioned = false;
  for (const piece of String(text ?? "").split(/(@[\w.-]+)/)) {
    if (piece.startsWith("@") && piece.length > 1) {
      const mark = document.createElement("mark");
      const name = piece.slice(1).toLowerCase();
      const isMe = me && (name === me.displayName.toLowerCase() || name === "me");
      mark.className = isMe ? "mention" : "at";
      mentioned ||= isMe;
      mark.textContent = piece;
      span.append(mark);
    } else if (piece) {
      span.append(piece);
    }
  }
  return { span, mentioned };
}

/** A ChatMessage, live or from the history (shown once, however often it arrives). */
function showChat(msg, channel, { history = false, before = null } = {}) {
  if (msg.id != null) {
    if (seenChats.has(msg.id)) return;
    seenChats.add(msg.id);
  }
  const { span, mentioned } = messageText(msg.message);
  const parts = [["from", msg.fromName]];
  if (msg.private) {
    const fromMe = me && msg.fromUserId === me.userId;
    parts.push(["private", fromMe ? "private, sent" : "private"]);
  }
  parts.push(span);
  const kind = ["chat", msg.private ? "private" : "", mentioned ? "mentioned" : "", history ? "history" : ""].join(" ");
  entry(kind, parts, { channel: msg.private ? "*" : channel, user: msg.fromUserId, before });
}

// ---- channels, users, history ---------------------------------------------------------------

const channelsFromUrl = (new URLSearchParams(location.search).get("channels") || "home")
  .split(",")
  .map((c) => c.trim())
  .filter(Boolean);

function renderTabs() {
  const current = client.channels;
  if (!current.includes(active)) active = current[0] ?? null;
  $("#channel-tabs").replaceChildren(
    ...current.map((channel) => {
      const li = document.createElement("li");
      li.className = channel === active ? "active" : "";
      li.dataset.channel = channel;
      const name = document.createElement("button");
      name.type = "button";
      name.className = "tab";
      name.textContent = `#${channel}`;
      name.onclick = () => switchTo(channel);
      li.append(name);
      if (current.length > 1) {
        const leave = document.createElement("button");
        leave.type = "button";
        leave.className = "leave";
        leave.title = `leave #${channel}`;
        leave.textContent = "×";
        leave.onclick = () => leaveChannel(channel);
        li.append(leave);
      }
      return li;
    }),
  );
  // A reload (signing in or out) keeps the channels.
  const search = `?channels=${current.map(encodeURIComponent).join(",")}`;
  if (location.search !== search) history.replaceState(null, "", search);
  arrange();
}

function switchTo(channel) {
  active = channel;
  renderTabs();
  input.focus();
}

async function loadHistory(channel) {
  try {
    const { results } = await client.get(`/chathistory?channels=${encodeURIComponent(channel)}`);
    // Before anything that arrived live meanwhile, oldest first.
    const first = log.firstChild;
    for (const msg of results) showChat(msg, channel, { history: true, before: first });
  } catch (error) {
    showError(`cannot load the history of #${channel}: ${error.message}`);
  }
}

async function joinChannel(channel) {
  if (!/^[^\s@,]+$/.test(channel)) return showError(`not a channel name: ${JSON.stringify(channel)}`);
  if (client.channels.includes(channel)) return switchTo(channel);
  try {
    await client.subscribeToChannels(channel);
    switchTo(channel);
    await loadHistory(channel);
    refreshUsers();
  } catch (error) {
    showError(`cannot join #${channel}: ${error.message}`);
  }
}

async function leaveChannel(channel) {
  if (!client.channels.includes(channel)) return showError(`you are not in #${channel}`);
  if (client.channels.length === 1) return showError("you cannot leave your last channel");
  try {
    await client.unsubscribeFromChannels(channel);
    renderTabs();
    refreshUsers();
  } catch (error) {
    showError(`cannot leave #${channel}: ${error.message}`);
  }
}

let usersAsked = 0;

async function refreshUsers() {
  // Lists can come back out of order: only the answer to the latest question is shown.
  const asked = ++usersAsked;
  try {
    const list = await client.getChannelSubscribers();
    if (asked !== usersAsked) return;
    const byId = new Map();
    for (const user of list) {
      const known = byId.get(user.userId);
      if (known) known.channels = [...new Set([...known.channels, ...user.channels])];
      else byId.set(user.userId, { ...user });
    }
    users = [...byId.values()].sort((a, b) => a.displayName.localeCompare(b.displayName));
    $("#user-list").replaceChildren(
      ...users.map((user) => {
        const li = document.createElement("li");
        li.dataset.user = user.userId;
        li.title = `@${user.displayName}: click to write to them`;
        const img = document.createElement("img");
        img.src = user.profileUrl || "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E";
        img.alt = "";
        const name = document.createElement("span");
        name.className = "name";
        name.textContent = user.displayName + (me && user.userId === me.userId ? " (you)" : "");
        const small = document.createElement("small");
        small.textContent = user.channels.map((c) => `#${c}`).join(" ");
        li.append(img, name, small);
        li.onclick = () => {
          input.value = `@${user.displayName} `;
          input.focus();
        };
        return li;
      }),
    );
  } catch (error) {
    showError(`cannot list subscribers: ${error.message}`);
  }
}

// ---- the client -----------------------------------------------------------------------------

function setStatus(state) {
  const status = $("#status");
  status.textContent = state;
  status.className = `status ${state}`;
}

await init();

const controls = remoteControls({ show: (kind, parts) => entry(kind, parts) });

const client = new ServerEventsClient("/", channelsFromUrl, {
  handlers: {
    onConnect: (sub) => {
      me = sub;
      $("#me").textContent = `you are @${sub.displayName}`;
      system(`connected as @${sub.displayName} to ${sub.channels}`);
      refreshUsers();
    },
    onJoin: (e) => {
      system(`@${e.displayName} joined #${e.channel}`, e.channel);
      refreshUsers();
    },
    onLeave: (e) => {
      system(`@${e.displayName} left #${e.channel}`, e.channel);
      refreshUsers();
    },
    onUpdate: () => refreshUsers(),
    // The heartbeat keeps the list right even if a join or leave was missed (a reconnect).
    onHeartbeat: () => refreshUsers(),
    chat: (msg, request) => showChat(msg, request.channel ?? active),
    ...controls.handlers,
  },
  receivers: controls.receivers,
  onStateChange: ({ state }) => setStatus(state),
  onException: (error) => showError(`error: ${error.message}`),
});

// trigger.customEvent: the package raises it as a DOM event on document.
document.addEventListener("customEvent", (event) => {
  entry("trigger", [`trigger.customEvent: ${JSON.stringify(event.detail.message)}`]);
});

// ---- sending --------------------------------------------------------------------------------

async function send(line) {
  const action = parseInput(line, { users, me });
  if (!action) return;
  if (action.kind === "command") return pageCommand(action);
  const from = client.getSubscriptionId();
  const path = `/channels/${encodeURIComponent(active)}`;
  const to = action.to ? { toUserId: action.to.userId } : {};
  if (action.kind === "raw") {
    await client.post(`${path}/raw`, { from, channel: active, selector: action.selector, message: action.message, ...to });
    if (action.to) system(`sent /${action.selector} to @${action.to.displayName}`);
  } else {
    await client.post(`${path}/chat`, { from, channel: active, message: action.message, selector: "cmd.chat", ...to });
  }
}

function pageCommand({ command, argument }) {
  switch (command) {
    case "join":
      if (!argument) throw new Error("/join needs a channel name");
      return joinChannel(argument.replace(/^#/, ""));
    case "leave":
      return leaveChannel((argument || active).replace(/^#/, ""));
    case "help":
      for (const line of HELP) system(line);
      return;
    default:
      throw new Error(`unknown command /${command}; /help lists them`);
  }
}

const inputHistory = new InputHistory();

$("#send-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const line = input.value;
  if (!line.trim() || !active) return;
  inputHistory.push(line);
  input.value = "";
  hideSuggestions();
  try {
    await send(line);
  } catch (error) {
    showError(`not sent: ${error.message}`);
  }
});

function hideSuggestions() {
  $("#suggestions").hidden = true;
}

function suggest() {
  const found = completions(input.value, input.selectionStart ?? input.value.length, users.map((u) => u.displayName));
  const box = $("#suggestions");
  if (!found || found.matches.length === 0) return hideSuggestions();
  box.replaceChildren(
    ...found.matches.map((name) => {
      const li = document.createElement("li");
      li.textContent = `@${name}`;
      li.onmousedown = (event) => {
        event.preventDefault();
        accept(found, name);
      };
      return li;
    }),
  );
  box.hidden = false;
}

function accept(found, name) {
  const { value, caret } = complete(input.value, found, name);
  input.value = value;
  input.setSelectionRange(caret, caret);
  hideSuggestions();
}

input.addEventListener("input", suggest);
input.addEventListener("keydown", (event) => {
  if (event.key === "Tab") {
    const found = completions(input.value, input.selectionStart ?? input.value.length, users.map((u) => u.displayName));
    if (found?.matches.length) {
      event.preventDefault();
      accept(found, found.matches[0]);
    }
  } else if (event.key === "ArrowUp") {
    event.preventDefault();
    input.value = inputHistory.previous(input.value);
    hideSuggestions();
  } else if (event.key === "ArrowDown") {
    event.preventDefault();
    input.value = inputHistory.next();
    hideSuggestions();
  } else if (event.key === "Escape") {
    if ($("#suggestions").hidden) input.value = "";
    hideSuggestions();
  }
});

// The announcement goes away by itself, or at a click or Escape.
$("#announce").addEventListener("click", () => ($("#announce").hidden = true));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") $("#announce").hidden = true;
});

$("#join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const field = $("#join-channel");
  const channel = field.value.trim().replace(/^#/, "");
  if (!channel) return;
  field.value = "";
  await joinChannel(channel);
});

// ---- signing in and out ---------------------------------------------------------------------

// The stream is authenticated by the session cookie it opens with: a reload reconnects with the
// new session (the old subscription unregisters itself on pagehide).
$("#sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await client.authenticate($("#user-name").value, $("#password").value);
    location.reload();
  } catch (error) {
    showError(`cannot sign in: ${error.message}`);
  }
});

$("#sign-out").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await client.post("/auth/logout", {});
    location.reload();
  } catch (error) {
    showError(`cannot sign out: ${error.message}`);
  }
});

async function showSession() {
  const response = await fetch("/auth", { headers: { Accept: "application/json" } });
  const signedIn = response.ok ? await response.json() : null;
  $("#sign-in").hidden = !!signedIn;
  $("#sign-out").hidden = !signedIn;
  $("#top").classList.toggle("signed-in", !!signedIn);
  if (signedIn) $("#me").textContent += ` · signed in as ${signedIn.userName}`;
}

try {
  await client.connect();
  renderTabs();
  await Promise.all([showSession(), ...client.channels.map(loadHistory)]);
} catch (error) {
  showError(`cannot connect: ${error.message}`);
}
input.focus();
window.chatClient = client;
