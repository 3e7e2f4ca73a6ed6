// The official @servicestack/client ServerEventsClient on Node 20 with the eventsource@2 polyfill,
// playing the same roles as `sdk-bench client` (see benches/src/roles/client.rs):
//   --mode throughput|latency|connect|idle --url URL [--count N --warmup W --run R --ack-port P]
//   [--stall-ms S (throughput in backlog mode: the first message blocks the client S ms)]
//   [--n N --secs S]
// Prints JSON lines on stdout: {"ready":true}, then the result.
"use strict";

globalThis.EventSource = require("eventsource");
const { ServerEventsClient } = require("@servicestack/client");
const dgram = require("node:dgram");

const ACK_EVERY = 1024;
const CHANNEL = "bench";

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, "");
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith("--")) {
      args[name] = next;
      i++;
    } else {
      args[name] = "true";
    }
  }
  return args;
}

const emit = (value) => process.stdout.write(JSON.stringify(value) + "\n");
const nowNs = () => process.hrtime.bigint(); // CLOCK_MONOTONIC, like the publisher's stamp
const cpuSecs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function percentiles(samplesNs, errors) {
  const sorted = Float64Array.from(samplesNs).sort();
  const at = (p) => {
    if (sorted.length === 0) return 0;
    const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
    return sorted[rank - 1] / 1000;
  };
  return {
    samples: sorted.length,
    p50_us: at(50),
    p99_us: at(99),
    p999_us: at(99.9),
    max_us: at(100),
    errors,
  };
}

function connected(url, channels, handlers) {
  return new Promise((resolve, reject) => {
    const client = new ServerEventsClient(url, channels, {
      handlers: { ...handlers, onConnect: () => resolve(client) },
      onException: (e) => reject(e),
    });
    client.start();
  });
}

async function delivery(args, latency) {
  const total = Number(args.count);
  const warmup = Number(args.warmup || 0);
  const stallMs = Number(args["stall-ms"] || 0);
  const run = Number(args.run);
  const socket = dgram.createSocket("udp4");
  const ack = (count) => {
    const datagram = Buffer.alloc(12);
    datagram.writeUInt32LE(run, 0);
    datagram.writeBigUInt64LE(BigInt(count), 4);
    socket.send(datagram, Number(args["ack-port"]), "127.0.0.1");
  };
  let count = 0;
  let errors = 0;
  let first = null;
  let last = null;
  const samples = [];
  let finish;
  const done = new Promise((resolve) => (finish = resolve));
  const client = await connected(args.url, [CHANNEL], {
    // Handlers get the JSON already parsed (the client's typed decode).
    chat: (msg) => {
      const received = latency ? nowNs() : 0n;
      if (!msg || typeof msg.sentNs !== "number") {
        errors++;
        return;
      }
      count++;
      if (count === 1) {
        // Backlog mode: block the only thread, so nothing is read while the server queues.
        if (stallMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, stallMs);
        first = [nowNs(), cpuSecs()];
      }
      if (latency && count > warmup && msg.sentNs > 0) {
        samples.push(Number(received - BigInt(msg.sentNs)));
      }
      if (count % ACK_EVERY === 0 || count === total) ack(count);
      if (count === total) {
        last = [nowNs(), cpuSecs()];
        finish();
      }
    },
  });
  emit({ ready: true });
  const timer = setTimeout(() => {
    console.error(`received ${count} of ${total} messages`);
    process.exit(1);
  }, Number(args["timeout-secs"] || 600) * 1000);
  await done;
  clearTimeout(timer);
  await client.stop();
  socket.close();
  if (latency) {
    emit(percentiles(samples, errors));
  } else {
    emit({
      events: count,
      secs: Number(last[0] - first[0]) / 1e9,
      cpu_secs: last[1] - first[1],
      errors,
    });
  }
}

async function connect(args) {
  const n = Number(args.n);
  const samples = [];
  for (let i = 0; i < n; i++) {
    let started;
    const client = await new Promise((resolve, reject) => {
      const c = new ServerEventsClient(args.url, ["connect"], {
        handlers: { onConnect: () => resolve(c) },
        onException: (e) => reject(e),
      });
      started = nowNs();
      c.start();
    });
    samples.push(Number(nowNs() - started));
    await client.stop();
  }
  emit(percentiles(samples, 0));
}

async function idle(args) {
  const n = Number(args.n);
  const windowSecs = Number(args.secs);
  let heartbeats = 0;
  const handlers = { onHeartbeat: () => heartbeats++ };
  const warm = await connected(args.url, ["idle-warm"], handlers);
  await sleep(300);
  if (global.gc) global.gc();
  const mem0 = process.memoryUsage();
  const clients = [];
  for (let start = 0; start < n; start += 64) {
    const batch = [];
    for (let i = start; i < Math.min(n, start + 64); i++) {
      batch.push(connected(args.url, [`idle-${i}`], handlers));
    }
    clients.push(...(await Promise.all(batch)));
  }
  await sleep(1000);
  if (global.gc) global.gc();
  const mem1 = process.memoryUsage();
  const cpu1 = cpuSecs();
  const beats1 = heartbeats;
  await sleep(windowSecs * 1000);
  const cpu2 = cpuSecs();
  const mem2 = process.memoryUsage();
  const per = Math.max(1, n);
  emit({
    n,
    rss_per_client: (mem1.rss - mem0.rss) / per,
    rss_after_window_per_client: (mem2.rss - mem0.rss) / per,
    live_per_client: (mem1.heapUsed + mem1.external - mem0.heapUsed - mem0.external) / per,
    cpu_ms_per_client_per_min: (((cpu2 - cpu1) * 1000) / per) * (60 / windowSecs),
    heartbeats_per_client: (heartbeats - beats1) / per,
    window_secs: windowSecs,
  });
  await Promise.all(clients.map((c) => c.stop()));
  await warm.stop();
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  switch (args.mode) {
    case "throughput":
      return delivery(args, false);
    case "latency":
      return delivery(args, true);
    case "connect":
      return connect(args);
    case "idle":
      return idle(args);
    default:
      throw new Error(`unknown mode ${args.mode}`);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error("official-client:", e && (e.stack || e.message || e));
    process.exit(1);
  },
);
