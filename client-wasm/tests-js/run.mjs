#!/usr/bin/env node
// Runs the npm package's tests: every conformance scenario whose legs include "wasm" (in headless
// Chromium) or "node" (in this Node process), the package's own checks, the page-unload, demo
// and Chat tests, and a TypeScript compile of the declarations ("ts"), all through the packed tarball
// installed into a scratch project.
//
//   node tests-js/run.mjs --tarball PKG.tgz --server path/to/test-server [--work DIR]
//        [--legs=wasm,node,ts] [--only=substring] [--jobs=N]
//
// Ends with the line `N passed, N failed` and exits non-zero when anything failed.

import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { runCheck, CHECKS } from "./lib/checks.mjs";
import { runScenario, unsupportedOps } from "./lib/interpreter.mjs";
import { PROFILES, ServerPool, startProcess } from "./lib/servers.mjs";
import { WebDriver } from "./lib/webdriver.mjs";

const here = dirname(fileURLToPath(import.meta.url));

// Scenarios a leg cannot run because of the platform, not the client. They are reported as
// skipped, with the reason, and listed before the summary so they stay visible.
const PLATFORM_LIMITS = {
  wasm: {
    cs_does_clean_up_sse_id_subscriptions_regardless_of_config:
      "it keeps 11 event streams to one host open at once; a browser opens at most 6 HTTP/1.1 " +
      "connections per host (EventSource has the same limit), so the others queue and, with the " +
      "profile's 400 ms idle timeout, expire",
  },
};
const repo = resolve(here, "../..");

function parseArgs(argv) {
  const args = { legs: ["wasm", "node", "ts"], jobs: 2 };
  for (let i = 0; i < argv.length; i++) {
    const [key, inline] = argv[i].split("=", 2);
    const value = () => inline ?? argv[++i];
    switch (key) {
      case "--tarball": args.tarball = resolve(value()); break;
      case "--server": args.server = resolve(value()); break;
      case "--work": args.work = resolve(value()); break;
      case "--legs": args.legs = value().split(","); break;
      case "--only": args.only = value(); break;
      case "--jobs": args.jobs = Number(value()); break;
      case "--scenarios": args.scenarios = resolve(value()); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!args.tarball || !args.server) throw new Error("usage: run.mjs --tarball PKG.tgz --server TEST_SERVER [--work DIR]");
  args.work ??= join(repo, "target", "wasm-tests");
  args.scenarios ??= join(repo, "conformance-tests", "scenarios", "scenarios.json");
  return args;
}

/** Installs the tarball into a scratch project, next to the test files the page loads. */
function stage(args) {
  const dir = join(args.work, "stage");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true, type: "module" }, null, 2));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--offline", "--loglevel=error", args.tarball], {
    cwd: dir,
    stdio: "inherit",
  });
  cpSync(join(here, "lib"), join(dir, "lib"), { recursive: true });
  cpSync(join(here, "browser.html"), join(dir, "browser.html"));
  // Imported by this process for the Node leg: resolved by package name, through the package's
  // "exports" map (its "node" condition), as an application would.
  writeFileSync(join(dir, "node-entry.mjs"), 'export * from "servicestack-server-events";\nexport { default } from "servicestack-server-events";\n');
  return dir;
}

/** Runs `tasks` (async functions) with at most `jobs` at a time. */
async function pool(tasks, jobs) {
  const results = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  return results;
}

class Report {
  constructor() {
    this.passed = 0;
    this.failed = [];
    this.skipped = [];
  }
  skip(leg, name, reason) {
    this.skipped.push(`${leg} ${name}: ${reason}`);
    console.log(`skip  ${leg.padEnd(4)} ${name}: ${reason}`);
  }
  add(leg, name, result) {
    const ms = `${result.ms ?? 0} ms`;
    if (result.ok) {
      this.passed++;
      console.log(`ok    ${leg.padEnd(4)} ${name} (${ms})`);
    } else {
      this.failed.push(`${leg} ${name}`);
      console.log(`FAIL  ${leg.padEnd(4)} ${name} (${ms})\n      ${result.error}`);
    }
  }
}

async function withServer(servers, profile, fn) {
  const server = await servers.provision(profile);
  try {
    return await fn(server.baseUrl);
  } finally {
    await server.stop();
  }
}

/** The TypeScript declarations compile, with bundler and Node module resolution. */
async function typesLeg(stageDir, report) {
  const TYPESCRIPT = "typescript@5.9.3";
  cpSync(join(here, "types-check.ts"), join(stageDir, "types-check.ts"));
  cpSync(join(here, "tsconfig.json"), join(stageDir, "tsconfig.json"));
  const started = Date.now();
  try {
    await promisify(execFile)("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error", TYPESCRIPT], { cwd: stageDir });
  } catch (error) {
    report.add("ts", `install ${TYPESCRIPT}`, { ok: false, ms: Date.now() - started, error: String(error.stderr || error) });
    return;
  }
  const tsc = join(stageDir, "node_modules", "typescript", "bin", "tsc");
  for (const [name, extra] of [
    ["types (moduleResolution bundler)", []],
    ["types (moduleResolution nodenext)", ["--module", "nodenext", "--moduleResolution", "nodenext"]],
  ]) {
    const begun = Date.now();
    try {
      await promisify(execFile)(process.execPath, [tsc, "-p", "tsconfig.json", ...extra], { cwd: stageDir });
      report.add("ts", name, { ok: true, ms: Date.now() - begun });
    } catch (error) {
      report.add("ts", name, { ok: false, ms: Date.now() - begun, error: String(error.stdout || error) });
    }
  }
}

async function nodeLeg(args, stageDir, servers, scenarios, report) {
  const lib = await import(pathToFileURL(join(stageDir, "node-entry.mjs")).href);
  const tasks = [];
  for (const scenario of scenarios.filter((s) => s.legs.includes("node"))) {
    tasks.push(async () => {
      const result = await withServer(servers, scenario.server ?? "default", (baseUrl) =>
        runScenario(lib, scenario, { baseUrl }),
      );
      report.add("node", scenario.name, result);
    });
  }
  for (const [name, check] of Object.entries(CHECKS).filter(([, c]) => c.legs.includes("node"))) {
    if (args.only && !name.includes(args.only)) continue;
    tasks.push(async () => {
      const result = await withServer(servers, check.server, (baseUrl) => runCheck(lib, name, { baseUrl, leg: "node" }));
      report.add("node", `check:${name}`, result);
    });
  }
  if (!args.only || "chat_input_rules".includes(args.only)) {
    const { runComposeTest } = await import(pathToFileURL(join(here, "compose-test.mjs")).href);
    report.add("node", "chat_input_rules", await runComposeTest());
  }
  await pool(tasks, args.jobs);
}

/** A fresh page per scenario: no state leaks from one to the next. */
async function openTestPage(browser, pageUrl) {
  await browser.command("DELETE", "/cookie");
  await browser.navigate(pageUrl);
  const ready = await browser.executeAsync(
    `const done = arguments[arguments.length - 1];
     const started = Date.now();
     (function poll() {
       if (window.__ready) return done(window.__ready);
       if (Date.now() - started > 20000) return done("the page did not load the package within 20 s");
       setTimeout(poll, 20);
     })();`,
  );
  if (ready !== "ready") throw new Error(`test page: ${ready}`);
}

async function inPage(browser, script, args, timeoutMs) {
  await browser.setScriptTimeout(timeoutMs);
  try {
    return await browser.executeAsync(script, args);
  } catch (error) {
    return { ok: false, ms: timeoutMs, error: `WebDriver: ${error.message}` };
  }
}

async function browserLeg(args, control, servers, scenarios, report, stageDir) {
  const browser = await WebDriver.start();
  const pageUrl = `${control.baseUrl}/browser.html`;
  try {
    for (const scenario of scenarios.filter((s) => s.legs.includes("wasm"))) {
      const limit = PLATFORM_LIMITS.wasm[scenario.name];
      if (limit) {
        report.skip("wasm", scenario.name, limit);
        continue;
      }
      await openTestPage(browser, pageUrl);
      const result = await withServer(servers, scenario.server ?? "default", (baseUrl) =>
        inPage(
          browser,
          `const done = arguments[arguments.length - 1];
           window.__run(arguments[0], arguments[1]).then(done, (e) => done({ ok: false, error: String(e) }));`,
          [scenario, baseUrl],
          120000,
        ),
      );
      report.add("wasm", scenario.name, result);
    }
    for (const [name, check] of Object.entries(CHECKS).filter(([, c]) => c.legs.includes("wasm"))) {
      if (args.only && !name.includes(args.only)) continue;
      await openTestPage(browser, pageUrl);
      const result = await withServer(servers, check.server, (baseUrl) =>
        inPage(
          browser,
          `const done = arguments[arguments.length - 1];
           window.__check(arguments[0], { baseUrl: arguments[1] }).then(done, (e) => done({ ok: false, error: String(e) }));`,
          [name, baseUrl],
          60000,
        ),
      );
      report.add("wasm", `check:${name}`, result);
    }
    if (!args.only || "page_unload".includes(args.only)) {
      report.add("wasm", "page_unload_unregisters", await pageUnload(browser, pageUrl, servers, stageDir));
    }
    if (!args.only || "demo".includes(args.only)) {
      report.add("wasm", "demo_renders_and_receives", await demo(args, browser, stageDir));
    }
    if (!args.only || "chat_three_people".includes(args.only)) {
      report.add("wasm", "chat_three_people", await chat(args, browser, stageDir, "runChatTest"));
    }
    if (!args.only || "chat_user_list_follows_heartbeats".includes(args.only)) {
      report.add("wasm", "chat_user_list_follows_heartbeats", await chat(args, browser, stageDir, "runHeartbeatListTest"));
    }
    await bundlers(args, browser, stageDir, report);
    // Chromium logs every non-2xx response ("Failed to load resource"); the scenarios cause many
    // on purpose (404 heartbeats after a reset, 401s, injected 500s). Show anything else.
    const severe = (await browser.consoleLog()).filter(
      (entry) => entry.level === "SEVERE" && !entry.message.includes("Failed to load resource"),
    );
    for (const entry of severe) console.log(`      browser console: ${entry.message}`);
  } finally {
    await browser.quit();
  }
}

/** Leaving the page unregisters its client: a client in Node sees it leave. */
async function pageUnload(browser, pageUrl, servers, stageDir) {
  const started = Date.now();
  const lib = await import(pathToFileURL(join(stageDir, "node-entry.mjs")).href);
  return withServer(servers, "slow_heartbeat", async (baseUrl) => {
    const leaves = [];
    const joins = [];
    const watcher = new lib.ServerEventsClient(baseUrl, ["unload"], {
      handlers: { onJoin: (e) => joins.push(e.userId), onLeave: (e) => leaves.push(e.userId) },
    });
    try {
      const me = await watcher.connect();
      await openTestPage(browser, pageUrl);
      const pageUser = await inPage(
        browser,
        `const done = arguments[arguments.length - 1];
         import("servicestack-server-events").then(async (lib) => {
           window.__unloadClient = new lib.ServerEventsClient(arguments[0], ["unload"]);
           const info = await window.__unloadClient.connect();
           done(info.userId);
         }, (e) => done("error: " + e));`,
        [baseUrl],
        20000,
      );
      if (typeof pageUser !== "string" || pageUser.startsWith("error")) {
        return { ok: false, ms: Date.now() - started, error: `the page could not connect: ${JSON.stringify(pageUser)}` };
      }
      const until = async (what, condition) => {
        const deadline = Date.now() + 5000;
        while (!condition()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      await until("the page's join", () => joins.includes(pageUser));
      const statsBefore = await (await fetch(`${baseUrl}/test/stats`)).json();
      await browser.navigate("about:blank");
      await until("the page's leave", () => leaves.includes(pageUser));
      const stats = await (await fetch(`${baseUrl}/test/stats`)).json();
      const subscribers = await (await fetch(`${baseUrl}/event-subscribers?channels=unload`)).json();
      if (subscribers.length !== 1 || subscribers[0].userId !== me.userId) {
        return { ok: false, ms: Date.now() - started, error: `subscribers left: ${JSON.stringify(subscribers)}` };
      }
      const broken = (stats.brokenConnections ?? stats.broken_connections ?? 0) - (statsBefore.brokenConnections ?? statsBefore.broken_connections ?? 0);
      console.log(`      page unload: leave seen; subscriptions dropped as broken connections: ${broken}`);
      return { ok: true, ms: Date.now() - started };
    } catch (error) {
      return { ok: false, ms: Date.now() - started, error: error.message };
    } finally {
      await watcher.stop();
    }
  });
}

/** The chat demo, served by the reference server binary, renders and receives messages. */
async function demo(args, browser, stageDir) {
  const started = Date.now();
  const { runDemoTest } = await import(pathToFileURL(join(here, "demo-test.mjs")).href);
  try {
    await runDemoTest({ browser, server: args.server, stageDir, work: args.work });
    return { ok: true, ms: Date.now() - started };
  } catch (error) {
    return { ok: false, ms: Date.now() - started, error: error.stack ?? error.message };
  }
}

/** A test of the Chat page (chat-test.mjs), by the name of its function. */
async function chat(args, browser, stageDir, test) {
  const started = Date.now();
  const tests = await import(pathToFileURL(join(here, "chat-test.mjs")).href);
  try {
    await tests[test]({ browser, server: args.server, stageDir, work: args.work });
    return { ok: true, ms: Date.now() - started };
  } catch (error) {
    return { ok: false, ms: Date.now() - started, error: error.stack ?? error.message };
  }
}

/** Production builds of an app importing the package, with each bundler the README names. */
async function bundlers(args, browser, stageDir, report) {
  const { BUNDLERS, installBundlerApp, runBundlerTest } = await import(pathToFileURL(join(here, "bundler-test.mjs")).href);
  const names = Object.keys(BUNDLERS).filter((name) => !args.only || `bundler_${name}`.includes(args.only));
  if (names.length === 0) return;
  const started = Date.now();
  let app;
  try {
    app = await installBundlerApp({ tarball: args.tarball, work: args.work });
  } catch (error) {
    return report.add("wasm", "bundler_install", { ok: false, ms: Date.now() - started, error: String(error.stderr || error) });
  }
  for (const name of names) {
    const begun = Date.now();
    try {
      await runBundlerTest({ name, app, browser, server: args.server, stageDir });
      report.add("wasm", `bundler_${name}`, { ok: true, ms: Date.now() - begun });
    } catch (error) {
      report.add("wasm", `bundler_${name}`, { ok: false, ms: Date.now() - begun, error: error.stack ?? error.message });
    }
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  mkdirSync(args.work, { recursive: true });
  const stageDir = stage(args);
  const all = JSON.parse(readFileSync(args.scenarios, "utf8")).scenarios;
  const scenarios = all.filter((s) => !args.only || s.name.includes(args.only));
  for (const scenario of scenarios) {
    const unsupported = unsupportedOps(scenario);
    const ours = scenario.legs.filter((leg) => args.legs.includes(leg));
    if (unsupported.length > 0 && ours.length > 0) {
      console.log(`note: ${scenario.name} names ${ours.join(", ")} but uses ${unsupported.join(", ")}`);
    }
  }
  // The control server serves the test page (--static-dir) and hands out per-scenario servers.
  const control = await startProcess(args.server, [...PROFILES.default, "--static-dir", stageDir]);
  const servers = new ServerPool(args.server, control.baseUrl);
  const report = new Report();
  try {
    const legs = [];
    if (args.legs.includes("node")) legs.push(nodeLeg(args, stageDir, servers, scenarios, report));
    if (args.legs.includes("ts")) legs.push(typesLeg(stageDir, report));
    if (args.legs.includes("wasm")) legs.push(browserLeg(args, control, servers, scenarios, report, stageDir));
    const outcomes = await Promise.allSettled(legs);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") {
        report.failed.push(`leg crashed: ${outcome.reason?.stack ?? outcome.reason}`);
        console.log(`FAIL  leg crashed: ${outcome.reason?.stack ?? outcome.reason}`);
      }
    }
  } finally {
    await control.stop();
  }
  if (report.skipped.length > 0) console.log(`\nskipped (platform limits):\n  ${report.skipped.join("\n  ")}`);
  if (report.failed.length > 0) console.log(`\nfailed:\n  ${report.failed.join("\n  ")}`);
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(`${report.passed} passed, ${report.failed.length} failed`);
  process.exit(report.failed.length > 0 ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  console.log("0 passed, 1 failed");
  process.exit(1);
});
