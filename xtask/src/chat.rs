//! `cargo xtask chat [--port N]`: builds the npm package and serves the Chat page
//! (client-wasm/demo) from the reference server until Ctrl+C, printing the URL to open.

use crate::util::{Result, root, run};
use crate::wasm;

/// The port used without `--port` (the one the README's commands use).
const DEFAULT_PORT: u16 = 5000;

/// Reads `--port N` / `--port=N`; anything else is an error rather than silently ignored.
fn port(args: &[&str]) -> Result<u16> {
    let mut port = DEFAULT_PORT;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let value = match arg.strip_prefix("--port=") {
            Some(value) => value,
            None if *arg == "--port" => rest.next().ok_or("--port needs a number")?,
            None => {
                return Err(format!(
                    "unknown argument {arg:?}; usage: cargo xtask chat [--port N]"
                ));
            }
        };
        port = value
            .parse()
            .map_err(|_| format!("--port must be a port number, not {value:?}"))?;
    }
    Ok(port)
}

/// Builds the package, then runs the server with `client-wasm` as its static folder.
pub fn serve(args: &[&str]) -> Result {
    let port = port(args)?;
    wasm::build_package()?;
    let server = wasm::build_server()?;
    let static_dir = root().join("client-wasm");
    let static_dir = static_dir.to_string_lossy();
    let port_text = port.to_string();
    eprintln!(
        "\n==> the Chat page: open http://127.0.0.1:{port}/demo/ in two or more windows \
         (sign in as user / pass; Ctrl+C stops the server)\n"
    );
    run(
        &server.to_string_lossy(),
        &["--port", &port_text, "--static-dir", &static_dir],
    )
}

#[cfg(test)]
mod tests {
    use super::port;

    #[test]
    fn reads_the_port_option() {
        assert_eq!(port(&[]).unwrap(), 5000);
        assert_eq!(port(&["--port", "8080"]).unwrap(), 8080);
        assert_eq!(port(&["--port=8081"]).unwrap(), 8081);
        assert!(port(&["--port"]).is_err());
        assert!(port(&["--port", "http"]).is_err());
        assert!(port(&["--verbose"]).is_err());
    }
}
