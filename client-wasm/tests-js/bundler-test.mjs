// Production builds, with each bundler the package README names, of one app that imports the
// package (tests-js/bundler-app), configured only as the README says; each build is served by
// the reference server and run in headless Chromium, where it must load its .wasm, connect and
// receive a chat posted by another subscriber.

import { execFile } from "node:child_process";
import { copyFileSync, cpSync, existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

import { waitInPage } from "./lib/page.mjs";
import { PROFILES, startProcess } from "./lib/servers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const exec = promisify(execFile);

/** The newest release of each at the time of writing (Vite 8 needs Node 20.19+). */
export const TOOLS = ["vite@8.4.1", "webpack@5.113.0", "rollup@4.69.3", "@rollup/plugin-node-resolve@16.0.3", "esbuild@0.28.2"];

/** The .wasm file, for the bundlers the README says to copy it for (next to the bundle). */
const WASM = ["node_modules", "servicestack-server-events", "wasm", "server_events_bg.wasm"];

const node = (app, ...args) => exec(process.execPath, args, { cwd: app });

/** Each bundler: how it builds the app, into which folder, and whether the README's recipe copies
 *  the .wasm file (Rollup and esbuild leave `new URL(..., import.meta.url)` alone). */
export const BUNDLERS = {
  vite: { out: "dist-vite", build: (app) => node(app, "node_modules/vite/bin/vite.js", "build", "--outDir", "dist-vite") },
  webpack: {
    out: "dist-webpack",
    page: true,
    build: (app) =>
      node(app, "--input-type=module", "-e", `
        import webpack from "webpack";
        import config from "./webpack.config.js";
        webpack(config, (error, stats) => {
          if (error || stats.hasErrors()) {
            console.error(error ?? stats.toString("errors-only"));
            process.exit(1);
          }
        });`),
  },
  rollup: { out: "dist-rollup", page: true, copyWasm: true, build: (app) => node(app, "node_modules/rollup/dist/bin/rollup", "-c", "rollup.config.js") },
  esbuild: {
    out: "dist-esbuild",
    page: true,
    copyWasm: true,
    // The package installs esbuild's native executable here.
    build: (app) => exec(join(app, "node_modules", ".bin", "esbuild"), ["main.js", "--bundle", "--format=esm", "--outdir=dist-esbuild"], { cwd: app }),
  },
};

/** Installs the tarball and the bundlers into a fresh app; returns its folder. */
export async function installBundlerApp({ tarball, work }) {
  const app = join(work, "bundler-app");
  rmSync(app, { recursive: true, force: true });
  cpSync(join(here, "bundler-app"), app, { recursive: true });
  writeFileSync(join(app, "package.json"), JSON.stringify({ private: true, type: "module" }, null, 2));
  await exec("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", tarball, ...TOOLS], { cwd: app });
  return app;
}

/** Builds the app with `name`'s bundler and checks the built page end to end. */
export async function runBundlerTest({ name, app, browser, server, stageDir }) {
  const bundler = BUNDLERS[name];
  const dist = join(app, bundler.out);
  let built;
  try {
    built = await bundler.build(app);
  } catch (error) {
    throw new Error(`${name} build failed: ${error.stderr || error.stdout || error.message}`);
  }
  if (bundler.page) copyFileSync(join(app, "index.html"), join(dist, "index.html"));
  if (bundler.copyWasm) copyFileSync(join(app, ...WASM), join(dist, "server_events_bg.wasm"));
  const files = existsSync(dist) ? readdirSync(dist, { recursive: true }) : [];
  if (!files.some((file) => String(file).endsWith(".wasm"))) {
    throw new Error(`${name} emitted no .wasm file (${files.join(", ")}):\n${built.stdout}`);
  }

  const host = await startProcess(server, [...PROFILES.slow_heartbeat, "--static-dir", dist]);
  const lib = await import(pathToFileURL(join(stageDir, "node-entry.mjs")).href);
  const sender = new lib.ServerEventsClient(host.baseUrl, ["bundled"]);
  const what = `${name} app`;
  try {
    const me = await sender.connect();
    await browser.command("DELETE", "/cookie");
    await browser.navigate(`${host.baseUrl}/index.html`);
    await waitInPage(browser, `document.body.dataset.userId`, "the built app to connect", 20000, what);
    await sender.post("/channels/bundled/chat", { from: me.id, channel: "bundled", message: `Hello, ${name}`, selector: "cmd.chat" });
    await waitInPage(
      browser,
      `document.querySelector("#last-chat").textContent === ${JSON.stringify(`Hello, ${name}`)}`,
      "the chat in the built app",
      10000,
      what,
    );
  } finally {
    await sender.stop();
    await browser.navigate("about:blank").catch(() => {});
    await host.stop();
  }
}
