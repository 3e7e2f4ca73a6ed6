// A Vite production build of an app that imports the package (tests-js/vite-app, configured only
// as the package README says), served by the reference server and run in headless Chromium: the
// bundled module must find its .wasm, connect and receive a chat posted by another subscriber.

import { execFile } from "node:child_process";
import { cpSync, existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

import { waitInPage } from "./lib/page.mjs";
import { PROFILES, startProcess } from "./lib/servers.mjs";

/** The newest Vite at the time of writing (it supports Node 20.19+). */
export const VITE = "vite@8.4.1";

const here = dirname(fileURLToPath(import.meta.url));

/** Installs the tarball and Vite into a fresh app, builds it, and checks the built page. */
export async function runViteTest({ browser, server, tarball, stageDir, work }) {
  const app = join(work, "vite-app");
  rmSync(app, { recursive: true, force: true });
  cpSync(join(here, "vite-app"), app, { recursive: true });
  writeFileSync(join(app, "package.json"), JSON.stringify({ private: true, type: "module" }, null, 2));
  const exec = promisify(execFile);
  await exec("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", tarball, VITE], { cwd: app });
  const built = await exec(process.execPath, [join(app, "node_modules", "vite", "bin", "vite.js"), "build"], { cwd: app });
  const dist = join(app, "dist");
  const assets = existsSync(join(dist, "assets")) ? readdirSync(join(dist, "assets")) : [];
  if (!assets.some((name) => name.endsWith(".wasm"))) {
    throw new Error(`vite build emitted no .wasm asset (assets: ${assets.join(", ")}):\n${built.stdout}`);
  }

  const host = await startProcess(server, [...PROFILES.slow_heartbeat, "--static-dir", dist]);
  const lib = await import(pathToFileURL(join(stageDir, "node-entry.mjs")).href);
  const sender = new lib.ServerEventsClient(host.baseUrl, ["vite"]);
  try {
    const me = await sender.connect();
    await browser.command("DELETE", "/cookie");
    await browser.navigate(`${host.baseUrl}/index.html`);
    await waitInPage(browser, `document.body.dataset.userId`, "the built app to connect", 20000, "vite app");
    await sender.post("/channels/vite/chat", { from: me.id, channel: "vite", message: "Hello, Vite", selector: "cmd.chat" });
    await waitInPage(
      browser,
      `document.querySelector("#last-chat").textContent === "Hello, Vite"`,
      "the chat in the built app",
      10000,
      "vite app",
    );
  } finally {
    await sender.stop();
    await browser.navigate("about:blank").catch(() => {});
    await host.stop();
  }
}
