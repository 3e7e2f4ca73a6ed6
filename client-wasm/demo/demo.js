// A chat page on the npm package, in the spirit of ServiceStack's Chat demo: a live subscriber
// list, chat, joining and leaving channels, and the remote-control selectors (cmd.announce,
// cmd.toggle$#id, css.*, trigger.*, document.title) that any subscriber can send with
// "/selector message".
//
// Served by the reference server: `test-server --static-dir client-wasm` after
// `cargo xtask wasm`, then open http://127.0.0.1:PORT/demo/ (add ?channels=home,lobby).

import init, { ServerEventsClient } from "servicestack-server-events";

const $ = (selector) => document.querySelector(selector);
const log = $("#log");
let active = null;

function entry(className, parts) {
  const div = document.createElement("div");
  div.className = `entry ${className}`;
  const time = document.createElement("time");
  time.textContent = new Date().toLocaleTimeString();
  div.append(time);
  for (const [cls, text] of parts) {
    const span = document.createElement("span");
    if (cls) span.className = cls;
    span.textContent = text;
    div.append(span);
  }
  log.append(div);
  log.scrollTop = log.scrollHeight;
  return div;
}

function system(text) {
  entry("system", [[null, text]]);
}

function setStatus(state) {
  const status = $("#status");
  status.textContent = state;
  status.className = `status ${state}`;
}

const channels = (new URLSearchParams(location.search).get("channels") || "home")
  .split(",")
  .map((c) => c.trim())
  .filter(Boolean);

await init();

const client = new ServerEventsClient("/", channels, {
  handlers: {
    onConnect: (sub) => {
      $("#me").textContent = `you are ${sub.displayName}`;
      system(`connected as ${sub.displayName} to ${sub.channels}`);
      refreshUsers();
    },
    onJoin: (e) => {
      system(`${e.displayName} joined #${e.channel}`);
      refreshUsers();
    },
    onLeave: (e) => {
      system(`${e.displayName} left #${e.channel}`);
      refreshUsers();
    },
    onUpdate: () => refreshUsers(),
    chat: (msg, request) => {
      entry("chat", [
        ["channel", `#${request.channel ?? "*"}`],
        ["from", `${msg.fromName}:`],
        ["text", msg.message],
      ]);
    },
    // cmd.announce "text": a message over the page for a few seconds.
    announce: (text) => {
      const box = $("#announce");
      box.textContent = text;
      box.hidden = false;
      clearTimeout(box.timer);
      box.timer = setTimeout(() => (box.hidden = true), 4000);
    },
    // cmd.toggle$#channels: `this` is the element the selector names.
    toggle: function () {
      if (this) this.hidden = !this.hidden;
    },
  },
  // document.title "New title" sets the page title.
  receivers: { document },
  onStateChange: ({ state }) => setStatus(state),
  onException: (error) => system(`error: ${error.message}`),
});

// trigger.customEvent "data"
client.addListener("customEvent", (msg) => {
  entry("trigger", [[null, `trigger.customEvent: ${JSON.stringify(msg.body)}`]]);
});

async function refreshUsers() {
  try {
    const users = await client.getChannelSubscribers();
    const list = $("#user-list");
    list.replaceChildren(
      ...users.map((user) => {
        const li = document.createElement("li");
        const img = document.createElement("img");
        img.src = user.profileUrl ?? "";
        img.alt = "";
        const name = document.createElement("span");
        name.textContent = user.displayName;
        const small = document.createElement("small");
        small.textContent = user.channels.map((c) => `#${c}`).join(" ");
        li.append(img, name, small);
        return li;
      }),
    );
  } catch (error) {
    system(`cannot list subscribers: ${error.message}`);
  }
}

function renderTabs() {
  const tabs = $("#channel-tabs");
  const current = client.channels;
  if (!current.includes(active)) active = current[0] ?? null;
  tabs.replaceChildren(
    ...current.map((channel) => {
      const li = document.createElement("li");
      li.className = channel === active ? "active" : "";
      li.textContent = `#${channel}`;
      li.dataset.channel = channel;
      li.onclick = () => {
        active = channel;
        renderTabs();
      };
      if (current.length > 1) {
        const leave = document.createElement("button");
        leave.type = "button";
        leave.title = `leave #${channel}`;
        leave.textContent = "×";
        leave.onclick = async (event) => {
          event.stopPropagation();
          await client.unsubscribeFromChannels(channel);
          renderTabs();
          refreshUsers();
        };
        li.append(leave);
      }
      return li;
    }),
  );
}

$("#join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#join-channel");
  const channel = input.value.trim();
  if (!channel) return;
  try {
    await client.subscribeToChannels(channel);
    active = channel;
    input.value = "";
    renderTabs();
    refreshUsers();
  } catch (error) {
    system(`cannot join #${channel}: ${error.message}`);
  }
});

$("#send-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#message");
  const text = input.value.trim();
  if (!text || !active) return;
  input.value = "";
  const from = client.getSubscriptionId();
  const channel = encodeURIComponent(active);
  try {
    if (text.startsWith("/")) {
      // "/selector message": a remote control for everyone on the channel.
      const space = text.indexOf(" ");
      const selector = space < 0 ? text.slice(1) : text.slice(1, space);
      const message = space < 0 ? null : text.slice(space + 1);
      await client.post(`/channels/${channel}/raw`, { from, channel: active, selector, message });
    } else {
      await client.post(`/channels/${channel}/chat`, { from, channel: active, message: text, selector: "cmd.chat" });
    }
  } catch (error) {
    system(`not sent: ${error.message}`);
  }
});

await client.connect();
renderTabs();
window.chatClient = client;
