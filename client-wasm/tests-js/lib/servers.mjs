// Reference servers for the tests: the test-server binary started as a process, and fresh
// instances per scenario (from the control server's POST /test/servers, or as processes of their
// own when that route is not there).

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** The settings of each server profile (conformance-tests/scenarios/FORMAT.md). */
export const PROFILES = {
  default: ["--heartbeat-ms", "200", "--idle-timeout-ms", "30000", "--housekeeping-ms", "5000"],
  auth: ["--heartbeat-ms", "200", "--idle-timeout-ms", "30000", "--housekeeping-ms", "5000", "--auth-required"],
  no_notify: ["--heartbeat-ms", "200", "--idle-timeout-ms", "400", "--housekeeping-ms", "5000", "--no-notify"],
  slow_heartbeat: ["--heartbeat-ms", "10000", "--idle-timeout-ms", "30000", "--housekeeping-ms", "5000"],
  custom_meta: ["--profile", "custom_meta"],
  cluster: ["--profile", "cluster"],
};

/**
 * Profiles that are several processes' worth (the `cluster` profile: two nodes on one Redis
 * behind a round-robin front): the control server's in-process instances are single nodes, so
 * these always run as a test-server process of their own.
 */
const PROCESS_ONLY = new Set(["cluster"]);

/** Starts `binary args…`; resolves once it prints `listening on URL`. */
export function startProcess(binary, args, { log } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ["--host", "127.0.0.1", "--port", "0", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
    });
    const stderr = [];
    child.stderr.on("data", (chunk) => {
      stderr.push(chunk);
      if (log) log(chunk.toString());
    });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`${binary} did not start within 10 s: ${Buffer.concat(stderr)}`));
    }, 10000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${binary} exited with ${code}: ${Buffer.concat(stderr)}`));
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      const match = /^listening on (\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve({
          baseUrl: match[1].replace(/\/$/, ""),
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once("exit", () => done());
              child.kill("SIGTERM");
              setTimeout(() => child.kill("SIGKILL"), 5000).unref();
            }),
        });
      }
    });
  });
}

/** Hands out a fresh server per scenario. */
export class ServerPool {
  constructor(binary, controlUrl) {
    this.binary = binary;
    this.controlUrl = controlUrl;
    this.probe = undefined;
  }

  /** Whether the control server hands out instances (asked once, even by concurrent callers). */
  inProcessSupported() {
    this.probe ??= fetch(`${this.controlUrl}/test/servers`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ profile: "default" }),
    }).then(async (response) => {
      if (!response.ok) {
        await response.text();
        console.log(`note: POST /test/servers answered ${response.status}; starting one test-server process per scenario`);
        return false;
      }
      const { baseUrl } = await response.json();
      await fetch(`${baseUrl.replace(/\/$/, "")}/test/shutdown`, { method: "POST" }).catch(() => {});
      return true;
    });
    return this.probe;
  }

  async provision(profile = "default") {
    if (!PROFILES[profile]) throw new Error(`unknown server profile ${profile}`);
    if (PROCESS_ONLY.has(profile) || !(await this.inProcessSupported())) {
      return startProcess(this.binary, PROFILES[profile]);
    }
    const response = await fetch(`${this.controlUrl}/test/servers`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ profile }),
    });
    if (!response.ok) throw new Error(`POST /test/servers answered ${response.status}: ${await response.text()}`);
    const url = (await response.json()).baseUrl.replace(/\/$/, "");
    return {
      baseUrl: url,
      stop: async () => {
        await fetch(`${url}/test/shutdown`, { method: "POST" }).catch(() => {});
      },
    };
  }
}
