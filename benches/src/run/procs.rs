//! Child processes that talk in JSON lines: spawn, read a line with a deadline, write a command.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use serde_json::Value;

/// A started child. Dropping it kills it (only this child, by its own handle).
pub struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Proc {
    /// Starts `program args` with piped stdin/stdout; stderr is inherited.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        envs: &[(&str, &str)],
    ) -> Result<Proc, String> {
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {name} ({}): {e}", program.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stdin = child.stdin.take();
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Proc {
            name: name.to_owned(),
            child,
            stdin,
            lines,
        })
    }

    /// The next JSON line, within `timeout`. A line with an `"error"` field is an error.
    pub fn next(&mut self, timeout: Duration) -> Result<Value, String> {
        loop {
            let line = match self.lines.recv_timeout(timeout) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{} said nothing for {timeout:?}", self.name));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
                    return Err(format!("{} exited ({status})", self.name));
                }
            };
            let Ok(value) = serde_json::from_str::<Value>(&line) else {
                // Not ours (a library printing to stdout); show it and keep reading.
                eprintln!("[{}] {line}", self.name);
                continue;
            };
            if let Some(error) = value.get("error") {
                return Err(format!("{}: {error}", self.name));
            }
            return Ok(value);
        }
    }

    /// Writes one JSON command line.
    pub fn send(&mut self, command: &Value) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("cannot write to {}: {e}", self.name))
    }

    /// Sends a command and returns the reply.
    pub fn ask(&mut self, command: &Value, timeout: Duration) -> Result<Value, String> {
        self.send(command)?;
        self.next(timeout)
    }

    /// Closes stdin and waits up to `timeout` for a clean exit, then kills.
    pub fn finish(mut self, timeout: Duration) -> Result<(), String> {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(format!("{} exited with {status}", self.name)),
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err(format!("{} did not exit within {timeout:?}", self.name));
                }
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A number field of a JSON reply.
pub fn num(value: &Value, field: &str) -> Result<f64, String> {
    value
        .get(field)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("reply {value} has no number {field:?}"))
}
