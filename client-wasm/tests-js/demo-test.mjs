// The chat demo (client-wasm/demo), served by the reference server binary with --static-dir,
// driven in headless Chromium: it connects, lists subscribers, sends and receives chats, joins
// and leaves a channel, obeys remote-control selectors sent by another client (running the
// same package in Node), and a screenshot proves it renders.

import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { click, type, until, waitInPage } from "./lib/page.mjs";
import { PROFILES, startProcess } from "./lib/servers.mjs";

const here = dirname(fileURLToPath(import.meta.url));

/** Serves the demo with the installed package and checks it end to end. */
export async function runDemoTest({ browser, server, stageDir, work }) {
  // The layout `cargo xtask wasm` leaves in client-wasm/ (demo/ next to pkg/), with the package
  // as installed from the tarball.
  const root = join(work, "demo-root");
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  cpSync(join(here, "..", "demo"), join(root, "demo"), { recursive: true });
  cpSync(join(stageDir, "node_modules", "servicestack-server-events"), join(root, "pkg"), { recursive: true });

  const host = await startProcess(server, [...PROFILES.slow_heartbeat, "--static-dir", root]);
  const lib = await import(pathToFileURL(join(stageDir, "node-entry.mjs")).href);
  const chats = [];
  const updates = [];
  const remote = new lib.ServerEventsClient(host.baseUrl, ["home"], {
    handlers: {
      chat: (msg) => chats.push(msg.message),
      onUpdate: (e) => updates.push(e),
    },
  });
  try {
    const me = await remote.connect();
    await browser.command("DELETE", "/cookie");
    await browser.navigate(`${host.baseUrl}/demo/?channels=home`);
    await waitInPage(browser, `document.querySelector("#status").textContent === "open"`, "the demo to connect", 20000);
    await waitInPage(browser, `document.querySelectorAll("#user-list li").length === 2`, "both subscribers in the list");
    const pageUser = await browser.execute("return window.chatClient.getConnectionInfo().userId");

    // Chat both ways: typed into the page, and posted by the other subscriber.
    await type(browser, "#message", "Hello from Chromium\n");
    await until(() => chats.includes("Hello from Chromium"), "the page's chat to reach the other subscriber");
    await remote.post("/channels/home/chat", { from: me.id, channel: "home", message: "Hello from Node", selector: "cmd.chat" });
    await waitInPage(browser, `document.querySelector("#log").innerText.includes("Hello from Node")`, "the chat from Node");

    // Join and leave a channel from the page.
    await type(browser, "#join-channel", "lobby\n");
    await waitInPage(browser, `document.querySelector('#channel-tabs li[data-channel="lobby"]')`, "the #lobby tab");
    await until(() => updates.some((e) => e.userId === pageUser && e.channels === "home,lobby"), "the server to see the page join #lobby");
    await click(browser, '#channel-tabs li[data-channel="lobby"] button.leave');
    await waitInPage(browser, `!document.querySelector('#channel-tabs li[data-channel="lobby"]')`, "the #lobby tab to close");
    await until(() => updates.some((e) => e.userId === pageUser && e.channels === "home"), "the server to see the page leave #lobby");

    // Remote control, as in ServiceStack's Chat demo.
    const raw = (selector, message) =>
      remote.post("/channels/home/raw", { from: me.id, channel: "home", selector, message });
    await raw("document.title", "Remote controlled");
    await waitInPage(browser, `document.title === "Remote controlled"`, "document.title");
    await raw("css.background-color$#top", "rgb(128, 0, 96)");
    await waitInPage(browser, `document.querySelector("#top").style.backgroundColor === "rgb(128, 0, 96)"`, "css.background-color$#top");
    await raw("trigger.customEvent", "from Node");
    await waitInPage(browser, `document.querySelector("#log").innerText.includes('trigger.customEvent: "from Node"')`, "trigger.customEvent");
    await raw("cmd.toggle$#join-form", null);
    await waitInPage(browser, `document.querySelector("#join-form").hidden === true`, "cmd.toggle$#join-form to hide it");
    await raw("cmd.toggle$#join-form", null);
    await waitInPage(browser, `document.querySelector("#join-form").hidden === false`, "cmd.toggle$#join-form to show it again");
    await raw("cmd.announce", "This is your captain speaking...");
    await waitInPage(
      browser,
      `!document.querySelector("#announce").hidden && document.querySelector("#announce").textContent === "This is your captain speaking..."`,
      "cmd.announce",
    );

    const png = await browser.screenshot();
    const file = join(work, "demo-screenshot.png");
    writeFileSync(file, png);
    if (png.length < 10000) throw new Error(`demo: the screenshot is suspiciously small (${png.length} bytes)`);
    console.log(`      demo screenshot: ${file} (${png.length} bytes)`);
  } finally {
    await remote.stop();
    await browser.navigate("about:blank").catch(() => {});
    await host.stop();
  }
}
