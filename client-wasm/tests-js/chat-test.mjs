// The Chat page (client-wasm/demo) used by three people at once: three headless Chromium
// sessions on one reference server, each typing into the page. Covers the channel history on
// joining, sending and receiving, grouping, mentions and @name completion, command history,
// private messages (and that the third person never sees them), remote controls to everyone,
// to one user and to oneself, joining and leaving a channel and leaving the page as seen in the
// user list, and signing in and out. Ends with a screenshot of the finished state.

import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { KEYS, click, type, waitInPage } from "./lib/page.mjs";
import { PROFILES, startProcess } from "./lib/servers.mjs";

const here = dirname(fileURLToPath(import.meta.url));

/** One person's page. */
class Person {
  constructor(name, browser) {
    this.name = name;
    this.browser = browser;
  }

  async open(url) {
    await this.browser.command("DELETE", "/cookie");
    await this.browser.navigate(url);
    await this.connected();
  }

  async connected() {
    await this.until(`document.querySelector("#status")?.textContent === "open" && window.chatClient`, "the page to connect", 20000);
    this.displayName = await this.browser.execute("return window.chatClient.getConnectionInfo().displayName");
    this.userId = await this.browser.execute("return window.chatClient.getConnectionInfo().userId");
  }

  /** Types a line into the message box and presses Enter. */
  say(line) {
    return type(this.browser, "#message", `${line}${KEYS.enter}`);
  }

  until(predicate, what, timeoutMs = 5000) {
    return waitInPage(this.browser, predicate, what, timeoutMs, this.name);
  }

  /** Waits for an entry of the visible log whose text includes `text` (and matches `selector`). */
  sees(text, what = JSON.stringify(text), selector = ".entry") {
    return this.until(
      `[...document.querySelectorAll("#log ${selector}")].some((e) => !e.hidden && e.innerText.includes(${JSON.stringify(text)}))`,
      `${what} in the log`,
    );
  }

  logText() {
    return this.browser.execute("return document.querySelector('#log').innerText");
  }

  /** The user list: display name → channels text. */
  async userList() {
    return this.browser.execute(
      `return Object.fromEntries([...document.querySelectorAll("#user-list li")].map((li) =>
         [li.querySelector(".name").textContent.replace(" (you)", ""), li.querySelector("small").textContent]))`,
    );
  }
}

/** The layout `cargo xtask wasm` leaves in client-wasm/ (demo/ next to pkg/), with the package
 *  as installed from the tarball, in a fresh folder `name` under `work`. */
function siteRoot(work, stageDir, name) {
  const root = join(work, name);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  cpSync(join(here, "..", "demo"), join(root, "demo"), { recursive: true });
  cpSync(join(stageDir, "node_modules", "servicestack-server-events"), join(root, "pkg"), { recursive: true });
  return root;
}

/** Three people chat on one server; throws on the first thing that does not work. */
export async function runChatTest({ browser, server, stageDir, work }) {
  const root = siteRoot(work, stageDir, "chat-root");
  const host = await startProcess(server, [...PROFILES.slow_heartbeat, "--static-dir", root]);
  const page = `${host.baseUrl}/demo/?channels=home`;
  const others = [];
  try {
    const ann = new Person("Ann", browser);
    const bob = new Person("Bob", await browser.another());
    others.push(bob.browser);
    const cy = new Person("Cy", await browser.another());
    others.push(cy.browser);

    // Ann comes first and says something; Bob and Cy find it in the channel's history.
    await ann.open(page);
    await ann.say("Welcome to #home");
    await ann.sees("Welcome to #home");
    await bob.open(page);
    await cy.open(page);
    await bob.sees("Welcome to #home", "the history on joining", ".entry.history");
    for (const person of [ann, bob, cy]) {
      await person.until(`document.querySelectorAll("#user-list li").length === 3`, "three people in the user list");
    }

    // Send and receive; a second line from the same person is grouped under the first.
    await ann.say("Hello everyone");
    await ann.say("and a second line");
    for (const person of [bob, cy]) {
      await person.sees("Hello everyone");
      await person.sees("and a second line", "the grouped second line", ".entry.chat.continued");
    }
    await bob.say("Hi Ann");
    await ann.sees("Hi Ann");
    await ann.until(`!document.querySelector("#log .entry.chat:last-child").classList.contains("continued")`, "Bob's line to start a new group");

    // @name completion (Tab) and a mention: highlighted for Bob only.
    await type(ann.browser, "#message", `look @${bob.displayName}`);
    await ann.until(`!document.querySelector("#suggestions").hidden && document.querySelector("#suggestions").innerText.includes(${JSON.stringify(`@${bob.displayName}`)})`, "the completion list");
    await type(ann.browser, "#message", KEYS.tab);
    await ann.until(`document.querySelector("#message").value === ${JSON.stringify(`look @${bob.displayName} `)}`, "Tab to complete the name");
    await type(ann.browser, "#message", `at this${KEYS.enter}`);
    await bob.sees("at this", "the mention", ".entry.mentioned");
    await bob.until(`document.querySelector("#log .entry.mentioned mark.mention")?.textContent === ${JSON.stringify(`@${bob.displayName}`)}`, "the highlighted name");
    await cy.sees("at this");
    await cy.until(`!document.querySelector("#log .entry.mentioned")`, "no mention for Cy");

    // Command history: up brings back the last line, down the draft.
    await type(ann.browser, "#message", "draft");
    await type(ann.browser, "#message", KEYS.up);
    await ann.until(`document.querySelector("#message").value === ${JSON.stringify(`look @${bob.displayName} at this`)}`, "↑ to bring back the last line");
    await type(ann.browser, "#message", KEYS.up);
    await ann.until(`document.querySelector("#message").value === "and a second line"`, "↑ again for the line before");
    await type(ann.browser, "#message", KEYS.down + KEYS.down);
    await ann.until(`document.querySelector("#message").value === "draft"`, "↓ back to the draft");
    await type(ann.browser, "#message", KEYS.escape);

    // A private message: Bob gets it, Ann sees her copy, Cy never does (the marker sent after
    // it reaches Cy, so the private message would have too).
    await ann.say(`@${bob.displayName} only for Bob`);
    await bob.sees("only for Bob", "the private message", ".entry.private");
    await ann.sees("only for Bob", "Ann's copy of the private message", ".entry.private");
    await ann.say("marker after the private message");
    await cy.sees("marker after the private message");
    if ((await cy.logText()).includes("only for Bob")) throw new Error("Cy: sees the private message to Bob");
    // To oneself, and to nobody.
    await cy.say("@me note to self");
    await cy.sees("note to self", "the message to oneself", ".entry.private");
    await cy.say("@nobody hello?");
    await cy.sees("nobody called @nobody is here", "the error for an unknown user", ".entry.error");

    // Remote controls to everyone.
    await ann.say("/cmd.announce This is your captain speaking");
    for (const person of [bob, cy]) {
      await person.until(`!document.querySelector("#announce").hidden && document.querySelector("#announce").textContent === "This is your captain speaking"`, "cmd.announce");
    }
    await ann.say("/css.background-color$#top rgb(128, 0, 96)");
    await bob.until(`document.querySelector("#top").style.backgroundColor === "rgb(128, 0, 96)"`, "css.background-color$#top");
    await ann.say("/document.title Remote controlled");
    await cy.until(`document.title === "Remote controlled"`, "document.title");
    await ann.say("/cmd.toggle$#channels");
    await bob.until(`document.querySelector("#channels").hidden === true`, "cmd.toggle$#channels to hide it");
    await ann.say("/cmd.toggle$#channels");
    await bob.until(`document.querySelector("#channels").hidden === false`, "cmd.toggle$#channels to show it again");
    await ann.say("/trigger.customEvent from Ann");
    await cy.sees('trigger.customEvent: "from Ann"', "the DOM event");

    // To one user: tv.watch plays for Bob only.
    const video = `${host.baseUrl}/demo/clip.webm`;
    await ann.say(`@${bob.displayName} /tv.watch ${video}`);
    await bob.until(`!document.querySelector("#tv").hidden && document.querySelector("#tv video")?.src === ${JSON.stringify(video)}`, "tv.watch's video player");
    await ann.say("marker after tv.watch");
    await cy.sees("marker after tv.watch");
    await cy.until(`document.querySelector("#tv").hidden && !document.querySelector("#tv video")`, "no video for Cy");
    await ann.say(`@${bob.displayName} /tv.off`);
    await bob.until(`document.querySelector("#tv").hidden`, "tv.off");

    // To oneself: an image; a javascript: URL is refused.
    const image = `${host.baseUrl}/demo/server-events.svg`;
    await ann.say(`@me /cmd.image ${image}`);
    await ann.until(`document.querySelector("#log img.shared-image")?.complete && document.querySelector("#log img.shared-image").naturalWidth > 0`, "the image, loaded");
    await ann.say("@me /cmd.redirect javascript:alert(1)");
    await ann.sees("only http and https URLs are accepted", "the refused redirect", ".entry.error");

    // Joining a channel shows in everyone's user list.
    await bob.say("/join lobby");
    await bob.until(`document.querySelector('#channel-tabs li.active[data-channel="lobby"]')`, "the #lobby tab");
    await ann.until(`[...document.querySelectorAll("#user-list li small")].some((s) => s.textContent === "#home #lobby")`, "Bob in #home and #lobby");
    await bob.say("Anyone in the lobby?");
    await bob.sees("Anyone in the lobby?");
    await bob.until(`![...document.querySelectorAll("#log .entry")].some((e) => !e.hidden && e.innerText.includes("Hello everyone"))`, "#home's chat hidden in the #lobby tab");
    // Ann joins #lobby too and finds Bob's question in its history; then she leaves it again.
    await ann.say("/join lobby");
    await ann.sees("Anyone in the lobby?", "#lobby's history on joining", ".entry.history");
    await bob.until(`[...document.querySelectorAll("#user-list li small")].filter((s) => s.textContent === "#home #lobby").length === 2`, "Ann in #lobby in Bob's list");
    await ann.say("/leave");
    await ann.until(`!document.querySelector('#channel-tabs li[data-channel="lobby"]') && document.querySelector('#channel-tabs li.active[data-channel="home"]')`, "Ann back in #home only");
    await bob.until(`[...document.querySelectorAll("#user-list li small")].filter((s) => s.textContent === "#home #lobby").length === 1`, "Ann to leave #lobby in Bob's list");

    // A redirect to one user: Cy lands on the page with two channels and reconnects.
    const target = `${host.baseUrl}/demo/?channels=home,redirected`;
    await ann.say(`@${cy.displayName} /cmd.redirect ${target}`);
    await cy.until(`location.href === ${JSON.stringify(target)}`, "the redirect", 10000);
    await cy.connected();
    await cy.until(`document.querySelector('#channel-tabs li[data-channel="redirected"]')`, "the #redirected tab");

    // Cy signs in; the page reloads with the session and says so.
    await type(cy.browser, "#user-name", "user");
    await type(cy.browser, "#password", `wrong${KEYS.enter}`);
    await cy.sees("cannot sign in", "the failed sign-in", ".entry.error");
    await cy.browser.execute(`document.querySelector("#password").value = ""`);
    await type(cy.browser, "#password", `pass${KEYS.enter}`);
    await cy.until(`document.querySelector("#me").textContent.includes("signed in as user") && document.querySelector("#status").textContent === "open"`, "the signed-in page", 20000);
    await cy.connected();
    await cy.until(`window.chatClient.getConnectionInfo().isAuthenticated === true`, "an authenticated subscription");
    await cy.say("Signed in now");
    await ann.sees("Signed in now");
    await click(cy.browser, "#sign-out button");
    await cy.until(`!document.querySelector("#sign-in").hidden && document.querySelector("#sign-out").hidden && !document.querySelector("#me").textContent.includes("signed in")`, "the signed-out page", 20000);
    await cy.connected();
    await cy.until(`window.chatClient.getConnectionInfo().isAuthenticated === false`, "an anonymous subscription again");

    // Bob leaves the page: he leaves Ann's user list (unregistered on unload).
    await bob.browser.navigate("about:blank");
    await ann.until(
      `![...document.querySelectorAll("#user-list li .name")].some((n) => n.textContent === ${JSON.stringify(bob.displayName)})`,
      "Bob to leave the user list",
    );
    await ann.sees(`@${bob.displayName} left #home`, "Bob's leave");
    await ann.until(`document.querySelectorAll("#user-list li").length === 2`, "Ann and Cy in the user list");

    await ann.say(`Bye @${cy.displayName}!`);
    await cy.sees("Bye", "the last mention", ".entry.mentioned");
    await type(ann.browser, "#message", KEYS.escape);
    await ann.until(`document.querySelector("#announce").hidden`, "Escape to dismiss the announcement");
    const png = await ann.browser.screenshot();
    const file = join(work, "chat.png");
    writeFileSync(file, png);
    if (png.length < 20000) throw new Error(`chat: the screenshot is suspiciously small (${png.length} bytes)`);
    console.log(`      chat screenshot: ${file} (${png.length} bytes)`);
  } finally {
    for (const other of others) await other.quit();
    await browser.navigate("about:blank").catch(() => {});
    await host.stop();
  }
}

/**
 * On a server that sends no join or leave notices (`--no-notify`), the user list still follows
 * who comes and goes: the page refreshes it on every heartbeat.
 */
export async function runHeartbeatListTest({ browser, server, stageDir, work }) {
  const root = siteRoot(work, stageDir, "chat-heartbeat-root");
  const host = await startProcess(server, [...PROFILES.no_notify, "--static-dir", root]);
  const lib = await import(pathToFileURL(join(stageDir, "node-entry.mjs")).href);
  const other = new lib.ServerEventsClient(host.baseUrl, ["home"]);
  try {
    const ann = new Person("Ann", browser);
    await ann.open(`${host.baseUrl}/demo/?channels=home`);
    await ann.until(`document.querySelectorAll("#user-list li").length === 1`, "Ann alone in the list");
    const info = await other.connect();
    await ann.until(`document.querySelectorAll("#user-list li").length === 2`, "the newcomer, with no join notice");
    await ann.until(`document.querySelector("#user-list").innerText.includes(${JSON.stringify(info.displayName)})`, "the newcomer's name");
    await other.stop();
    await ann.until(`document.querySelectorAll("#user-list li").length === 1`, "the newcomer gone, with no leave notice");
    const log = await ann.logText();
    if (log.includes("joined") || log.includes(" left ")) throw new Error(`Ann: a join or leave notice arrived on a --no-notify server:\n${log}`);
  } finally {
    await other.stop();
    await browser.navigate("about:blank").catch(() => {});
    await host.stop();
  }
}
