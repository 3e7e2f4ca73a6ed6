//! The B2/B3 contenders and how to start each as its own process.

use std::path::PathBuf;
use std::time::Duration;

use super::procs::Proc;

/// A client under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// `servicestack_events::ServerEventsClient` (`sdk-bench client`).
    Sdk,
    /// `@servicestack/client` on Node with the `eventsource` 2 polyfill.
    Official,
    /// reqwest `bytes_stream()` counting frames (`sdk-bench floor`).
    Floor,
    /// The floor that also splits frames and decodes each body into the typed struct
    /// (`sdk-bench floor --typed`); backlog mode only.
    FloorTyped,
}

impl Client {
    /// The delivery contenders, in report order.
    pub const DELIVERY: [Client; 3] = [Client::Sdk, Client::Official, Client::Floor];
    /// The backlog contenders: the delivery ones and the floor with the typed decode, which
    /// shows what decoding into a struct costs on its own.
    pub const BACKLOG: [Client; 4] = [
        Client::Sdk,
        Client::Official,
        Client::Floor,
        Client::FloorTyped,
    ];
    /// The idle-footprint contenders (the floor is no client: no heartbeats, no dispatch).
    pub const IDLE: [Client; 2] = [Client::Sdk, Client::Official];

    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Client::Sdk => "client-core (this SDK)",
            Client::Official => "@servicestack/client (Node)",
            Client::Floor => "floor: reqwest bytes_stream",
            Client::FloorTyped => "floor + typed decode: frames split, bodies into the struct",
        }
    }

    /// The short name in logs.
    pub fn short(self) -> &'static str {
        match self {
            Client::Sdk => "sdk",
            Client::Official => "official",
            Client::Floor => "floor",
            Client::FloorTyped => "floor-typed",
        }
    }
}

/// Runs of one measurement per contender, in report order.
pub type PerClient<T> = Vec<(Client, Vec<T>)>;

/// Appends one run of `client`.
pub fn push<T>(table: &mut PerClient<T>, client: Client, value: T) {
    match table.iter_mut().find(|(c, _)| *c == client) {
        Some((_, runs)) => runs.push(value),
        None => table.push((client, vec![value])),
    }
}

/// The contenders of round `run`, rotated so that none always goes first after a pause.
pub fn order(run: usize, clients: &[Client]) -> Vec<Client> {
    (0..clients.len())
        .map(|i| clients[(i + run) % clients.len()])
        .collect()
}

/// Where the programs are.
#[derive(Debug, Clone)]
pub struct Programs {
    /// This executable.
    pub exe: PathBuf,
    /// The folder holding `official-client.cjs` and its `node_modules`.
    pub node_dir: PathBuf,
}

impl Programs {
    /// Starts `client` in `mode` with `--name value` options.
    pub fn spawn(
        &self,
        client: Client,
        mode: &str,
        options: &[(&str, String)],
    ) -> Result<Proc, String> {
        let mut args: Vec<String> = Vec::new();
        let program = match client {
            Client::Sdk => {
                args.push("client".to_owned());
                self.exe.clone()
            }
            Client::Floor | Client::FloorTyped => {
                args.push("floor".to_owned());
                if client == Client::FloorTyped {
                    args.push("--typed".to_owned());
                }
                self.exe.clone()
            }
            Client::Official => {
                args.push("--expose-gc".to_owned());
                args.push(
                    self.node_dir
                        .join("official-client.cjs")
                        .display()
                        .to_string(),
                );
                PathBuf::from("node")
            }
        };
        args.extend(["--mode".to_owned(), mode.to_owned()]);
        for (name, value) in options {
            args.push(format!("--{name}"));
            args.push(value.clone());
        }
        Proc::spawn(client.short(), &program, &args, &[])
    }

    /// Starts a reference server process and reads its address.
    pub fn server(&self, heartbeat_ms: u64) -> Result<Server, String> {
        self.node(heartbeat_ms, None)
    }

    /// Starts a reference server process, on the local provider or (with `redis`) as one node
    /// of the cluster on that Redis URL, and reads its address.
    pub fn node(&self, heartbeat_ms: u64, redis: Option<&str>) -> Result<Server, String> {
        let mut args = vec![
            "server".to_owned(),
            "--heartbeat-ms".to_owned(),
            heartbeat_ms.to_string(),
        ];
        if let Some(url) = redis {
            args.extend(["--redis".to_owned(), url.to_owned()]);
        }
        let mut proc = Proc::spawn("server", &self.exe, &args, &[])?;
        let hello = proc.next(Duration::from_secs(30))?;
        let url = hello["url"]
            .as_str()
            .ok_or("server sent no url")?
            .to_owned();
        let ack_port = hello["ack_port"]
            .as_u64()
            .ok_or("server sent no ack port")?;
        Ok(Server {
            proc,
            url,
            ack_port: ack_port as u16,
        })
    }
}

/// A running `sdk-bench server`.
pub struct Server {
    pub proc: Proc,
    pub url: String,
    pub ack_port: u16,
}

impl Server {
    /// Waits until `channel` has exactly `count` subscribers.
    pub fn wait_subs(&mut self, channel: &str, count: usize) -> Result<(), String> {
        self.proc
            .ask(
                &serde_json::json!({ "cmd": "wait_subs", "channel": channel, "count": count }),
                Duration::from_secs(90),
            )
            .map(|_| ())
    }

    /// The server's resident memory (bytes) and subscription count.
    pub fn stats(&mut self) -> Result<(f64, f64), String> {
        let reply = self.proc.ask(
            &serde_json::json!({ "cmd": "stats" }),
            Duration::from_secs(30),
        )?;
        Ok((
            super::procs::num(&reply, "rss")?,
            super::procs::num(&reply, "subs")?,
        ))
    }

    /// Asks the server to exit.
    pub fn quit(mut self) -> Result<(), String> {
        let _ = self.proc.send(&serde_json::json!({ "cmd": "quit" }));
        self.proc.finish(Duration::from_secs(30))
    }
}
