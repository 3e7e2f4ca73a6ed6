// A small W3C WebDriver client for chromedriver and headless Chromium (Debian's packages; no
// browser is downloaded).

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
  "--window-size=1280,900",
];

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitUntil(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export class WebDriver {
  static async start({ chromedriver = "chromedriver", chromium = "/usr/bin/chromium" } = {}) {
    const port = await freePort();
    const driver = spawn(chromedriver, [`--port=${port}`, "--allowed-ips=127.0.0.1"], { stdio: ["ignore", "ignore", "pipe"] });
    const base = `http://127.0.0.1:${port}`;
    await waitUntil(async () => (await (await fetch(`${base}/status`)).json()).value.ready, 15000, "chromedriver");
    try {
      return await WebDriver.session(driver, base, chromium, true);
    } catch (error) {
      driver.kill();
      throw error;
    }
  }

  /** Another browser session on the same chromedriver (its own profile, so its own cookies). */
  another() {
    return WebDriver.session(this.process, this.base, this.chromium, false);
  }

  static async session(driver, base, chromium, ownsDriver) {
    const userDataDir = mkdtempSync(join(tmpdir(), "client-wasm-chromium-"));
    const session = await fetch(`${base}/session`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        capabilities: {
          alwaysMatch: {
            browserName: "chrome",
            "goog:chromeOptions": {
              binary: chromium,
              args: [...CHROMIUM_FLAGS, `--user-data-dir=${userDataDir}`],
            },
            "goog:loggingPrefs": { browser: "ALL" },
          },
        },
      }),
    }).then((r) => r.json());
    if (!session.value?.sessionId) {
      rmSync(userDataDir, { recursive: true, force: true });
      throw new Error(`cannot start Chromium: ${JSON.stringify(session.value)}`);
    }
    return new WebDriver(driver, base, session.value.sessionId, userDataDir, { chromium, ownsDriver });
  }

  constructor(process, base, sessionId, userDataDir, { chromium, ownsDriver }) {
    this.process = process;
    this.base = base;
    this.chromium = chromium;
    this.ownsDriver = ownsDriver;
    this.url = `${base}/session/${sessionId}`;
    this.userDataDir = userDataDir;
  }

  async command(method, path, body) {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: body === undefined ? undefined : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const reply = await response.json();
    if (!response.ok) {
      throw new Error(`WebDriver ${method} ${path}: ${reply.value?.error}: ${reply.value?.message?.split("\n")[0]}`);
    }
    return reply.value;
  }

  navigate(url) {
    return this.command("POST", "/url", { url });
  }

  setScriptTimeout(ms) {
    return this.command("POST", "/timeouts", { script: ms });
  }

  /** Runs `script` in the page; `args` are passed as `arguments`. */
  execute(script, args = []) {
    return this.command("POST", "/execute/sync", { script, args });
  }

  /** Runs `script`, which calls its last argument (`arguments[arguments.length - 1]`) with the result. */
  executeAsync(script, args = []) {
    return this.command("POST", "/execute/async", { script, args });
  }

  /** A PNG screenshot of the viewport. */
  async screenshot() {
    return Buffer.from(await this.command("GET", "/screenshot"), "base64");
  }

  /** The browser console since the last call (chromedriver's log extension). */
  async consoleLog() {
    try {
      return await this.command("POST", "/se/log", { type: "browser" });
    } catch {
      return [];
    }
  }

  async quit() {
    await this.command("DELETE", "").catch(() => {});
    if (this.ownsDriver) this.process.kill();
    rmSync(this.userDataDir, { recursive: true, force: true });
  }
}
