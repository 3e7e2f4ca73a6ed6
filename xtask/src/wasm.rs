//! The browser leg: the npm package (`cargo xtask wasm`) and its tests in headless Chromium and
//! Node (`cargo xtask test --only=wasm`).
//!
//! The package is built with the pinned `wasm-bindgen` CLI (`--target web`, one `.wasm` for
//! browsers, bundlers and Node) into `client-wasm/pkg/`, packed with `npm pack` into
//! `client-wasm/pkg-dist/`; `npm publish --dry-run` of the tarball must list exactly the files
//! meant to ship. The tests install that tarball into a scratch project and run the
//! conformance scenarios, the package's own checks and the demo through it.
//!
//! Environment: `XTASK_WASM_DEV=1` builds the unoptimized wasm (fast, for local iteration);
//! `CARGO_TARGET_DIR` is honoured.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{
    Result, ensure_apt, ensure_cargo_tool, ensure_rust_target, has, output, root, run, run_in,
    step, strict,
};
use crate::wasm_size;

/// The wasm-bindgen CLI version; must equal the `wasm-bindgen` crate pinned in Cargo.toml.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
/// The output name of the generated module (`wasm/server_events.js`, `..._bg.wasm`).
const OUT_NAME: &str = "server_events";
/// Files copied from `client-wasm/npm/` into the package.
const NPM_FILES: [&str; 8] = [
    "index.js",
    "index.d.ts",
    "node.js",
    "client.js",
    "dispatch.js",
    "events.js",
    "README.md",
    "CHANGELOG.md",
];
/// Files copied from the repository's root into the package.
const LICENSE_FILES: [&str; 2] = ["LICENSE-MIT", "LICENSE-APACHE"];
/// Every file the published package holds, exactly: `npm publish --dry-run` must list these and
/// nothing else, and the package folder must hold nothing that is left out of it.
const SHIPPED_FILES: [&str; 15] = [
    "package.json",
    "README.md",
    "CHANGELOG.md",
    "LICENSE-MIT",
    "LICENSE-APACHE",
    "index.js",
    "index.d.ts",
    "node.js",
    "client.js",
    "dispatch.js",
    "events.js",
    "wasm/server_events.js",
    "wasm/server_events.d.ts",
    "wasm/server_events_bg.wasm",
    "wasm/server_events_bg.wasm.d.ts",
];
/// What `client-wasm/npm/package.json` has in place of the repository's address.
const REPOSITORY_PLACEHOLDER: &str = "https://repository.filled-by-xtask";

/// Installs what the wasm leg needs: the pinned wasm-bindgen CLI, Chromium and its driver.
pub fn setup() -> Result {
    ensure_cargo_tool("wasm-bindgen-cli", WASM_BINDGEN_VERSION, "wasm-bindgen")?;
    if !(has("chromium") && has("chromedriver"))
        && let Err(error) = ensure_apt(&["chromium", "chromium-driver"])
    {
        if strict() {
            return Err(format!(
                "cannot install Chromium for the browser tests: {error}"
            ));
        }
        eprintln!(
            "warning: Chromium is not installed ({error}); the browser tests will be skipped"
        );
    }
    match check_node() {
        Err(error) if !strict() => {
            eprintln!("warning: {error}; the wasm leg will be skipped");
            Ok(())
        }
        other => other,
    }
}

/// Node 20 or newer runs the package's tests and `npm pack`.
fn check_node() -> Result {
    let version = output("node", &["--version"]).unwrap_or_default();
    let major: u32 = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major >= 20 && has("npm") {
        return Ok(());
    }
    Err(format!(
        "Node 20+ and npm are needed for the npm package and its tests (found {:?})",
        version.trim()
    ))
}

/// The target directory every build of the workspace and of client-wasm shares.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        })
        .unwrap_or_else(|| root().join("target"))
}

fn dev_build() -> bool {
    std::env::var("XTASK_WASM_DEV").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A string field of `[workspace.package]` in the root Cargo.toml (`version`, `repository`).
pub fn workspace_field(name: &str) -> Result<String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).map_err(|e| e.to_string())?;
    let mut in_section = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[workspace.package]";
        } else if in_section
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == name
        {
            return Ok(value.trim().trim_matches('"').to_owned());
        }
    }
    Err(format!("no {name} in [workspace.package]"))
}

fn copy(from: &Path, to: &Path) -> Result {
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

/// Builds the npm package (`client-wasm/pkg/`) and packs it into `client-wasm/pkg-dist/`.
pub fn build_package() -> Result {
    package().map(drop)
}

fn package() -> Result<PathBuf> {
    // `cargo xtask wasm` works on a fresh clone: the target, the pinned CLI and Node are checked
    // (and the first two installed) here too, not only by `cargo xtask setup`.
    ensure_rust_target("wasm32-unknown-unknown")?;
    ensure_cargo_tool("wasm-bindgen-cli", WASM_BINDGEN_VERSION, "wasm-bindgen")?;
    check_node()?;
    let crate_dir = root().join("client-wasm");
    let pkg = crate_dir.join("pkg");
    let dist = crate_dir.join("pkg-dist");
    let dev = dev_build();
    step(&format!(
        "building client-wasm for wasm32-unknown-unknown ({})",
        if dev { "dev" } else { "release" }
    ));
    let mut cargo = Command::new("cargo");
    // client-wasm is a workspace of its own (its lockfile picks the ASCII-only IDNA backend);
    // it builds into the shared target directory.
    cargo
        .args([
            "build",
            "--manifest-path",
            "client-wasm/Cargo.toml",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .env("CARGO_TARGET_DIR", target_dir())
        .current_dir(root());
    if !dev {
        // Size over speed: client-wasm/Cargo.toml's release profile (opt-level "z", fat LTO,
        // one codegen unit, panic = "abort").
        cargo.arg("--release");
    }
    let status = cargo
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("the wasm build failed".into());
    }
    let wasm = target_dir()
        .join("wasm32-unknown-unknown")
        .join(if dev { "debug" } else { "release" })
        .join("client_wasm.wasm");

    step("wasm-bindgen --target web");
    if pkg.exists() {
        std::fs::remove_dir_all(&pkg)
            .map_err(|e| format!("cannot clear {}: {e}", pkg.display()))?;
    }
    let out_dir = pkg.join("wasm");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let wasm_arg = wasm.to_string_lossy().into_owned();
    let out_arg = out_dir.to_string_lossy().into_owned();
    let mut bindgen = vec![
        "--target",
        "web",
        "--out-name",
        OUT_NAME,
        "--out-dir",
        &out_arg,
    ];
    if !dev {
        // Function names are for debugging only; the shipped module goes without them.
        bindgen.extend(["--remove-name-section", "--remove-producers-section"]);
    }
    bindgen.push(&wasm_arg);
    run("wasm-bindgen", &bindgen)?;
    if !dev {
        // The glue repeats every Rust doc comment as JSDoc; editors read the shipped `.d.ts`
        // files instead, so the shipped JavaScript goes without them (about 2.8 KB gzipped).
        let glue = out_dir.join(format!("{OUT_NAME}.js"));
        let text = std::fs::read_to_string(&glue)
            .map_err(|e| format!("cannot read {}: {e}", glue.display()))?;
        std::fs::write(&glue, strip_doc_comments(&text)?)
            .map_err(|e| format!("cannot write {}: {e}", glue.display()))?;
    }
    // No wasm-opt: on this module `wasm-opt -Oz` cut 12 % of the raw size but made the gzipped
    // file 1.5 % larger, and gzipped is what browsers download.

    for file in NPM_FILES {
        copy(&crate_dir.join("npm").join(file), &pkg.join(file))?;
    }
    for file in LICENSE_FILES {
        copy(&root().join(file), &pkg.join(file))?;
    }
    // Version and repository have one home, the workspace's Cargo.toml.
    let template =
        std::fs::read_to_string(crate_dir.join("npm/package.json")).map_err(|e| e.to_string())?;
    let repository = workspace_field("repository")?;
    let manifest = template
        .replace("0.0.0-filled-by-xtask", &workspace_field("version")?)
        .replace(REPOSITORY_PLACEHOLDER, repository.trim_end_matches('/'));
    std::fs::write(pkg.join("package.json"), manifest).map_err(|e| e.to_string())?;

    let sizes = wasm_size::measure_package(&pkg)?;
    let official = wasm_size::measure_official(&target_dir().join("official-client"));
    let report = wasm_size::report_json(if dev { "dev" } else { "release" }, &sizes, &official);

    step("npm pack");
    std::fs::create_dir_all(&dist).map_err(|e| e.to_string())?;
    let dist_arg = dist.to_string_lossy().into_owned();
    let packed = Command::new("npm")
        .args(["pack", "--json", "--pack-destination", &dist_arg])
        .current_dir(&pkg)
        .output()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if !packed.status.success() {
        return Err(format!(
            "npm pack failed: {}",
            String::from_utf8_lossy(&packed.stderr)
        ));
    }
    let listing = String::from_utf8_lossy(&packed.stdout);
    let file_name = listing
        .split("\"filename\":")
        .nth(1)
        .and_then(|rest| rest.split('"').nth(1))
        .ok_or_else(|| format!("cannot read npm pack's output: {listing}"))?
        .to_owned();
    let tarball = dist.join(file_name);
    check_shipped_files(&pkg, &tarball)?;
    std::fs::write(dist.join("size.json"), &report).map_err(|e| e.to_string())?;
    eprintln!(
        "package: {}\n{}",
        tarball.display(),
        wasm_size::describe(&sizes, &official)
    );
    Ok(tarball)
}

/// `text` without its `/** … */` doc comments: each starts a line (after indentation) and ends
/// at the first line that ends with `*/`, as wasm-bindgen writes them. Other comments (such
/// as the `/* @ts-self-types=… */` pragma) stay. An unterminated doc comment is an error, not
/// a truncated file.
fn strip_doc_comments(text: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut in_doc = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if !in_doc && trimmed.starts_with("/**") {
            in_doc = !trimmed.ends_with("*/");
            continue;
        }
        if in_doc {
            in_doc = !trimmed.ends_with("*/");
            continue;
        }
        out.push_str(line);
    }
    if in_doc {
        return Err("the wasm-bindgen glue ends inside a doc comment".into());
    }
    Ok(out)
}

/// Fails unless `npm publish --dry-run` of the tarball passes and lists exactly
/// [`SHIPPED_FILES`], and unless the package folder holds nothing else (a file wasm-bindgen
/// starts writing, such as a `snippets/` module, must not be silently left out).
fn check_shipped_files(pkg: &Path, tarball: &Path) -> Result {
    step("npm publish --dry-run (the files that would ship)");
    let tarball_arg = tarball.to_string_lossy().into_owned();
    // Run outside the package, so npm reads only the tarball; no login is needed for a dry run.
    let published = Command::new("npm")
        .args(["publish", "--dry-run", "--json", &tarball_arg])
        .current_dir(target_dir())
        .output()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if !published.status.success() {
        return Err(format!(
            "npm publish --dry-run failed: {}",
            String::from_utf8_lossy(&published.stderr)
        ));
    }
    let listing = String::from_utf8_lossy(&published.stdout);
    let mut listed = json_paths(&listing);
    listed.sort();
    let mut built = Vec::new();
    list_files(pkg, pkg, &mut built)?;
    built.sort();
    let mut intended: Vec<String> = SHIPPED_FILES.iter().map(|f| (*f).to_owned()).collect();
    intended.sort();
    if listed != intended {
        return Err(format!(
            "npm publish --dry-run would ship {listed:?}, not exactly {intended:?} \
             (fix `files` in client-wasm/npm/package.json or SHIPPED_FILES in xtask/src/wasm.rs)"
        ));
    }
    if built != intended {
        return Err(format!(
            "client-wasm/pkg holds {built:?}, but the package ships {intended:?}: \
             a built file would be left out"
        ));
    }
    eprintln!("npm publish --dry-run: {} files, as intended", listed.len());
    Ok(())
}

/// Every `"path": "…"` value in npm's JSON output (the packed files).
fn json_paths(json: &str) -> Vec<String> {
    json.split("\"path\"")
        .skip(1)
        .filter_map(|rest| {
            let value = rest.trim_start().strip_prefix(':')?.trim_start();
            value
                .strip_prefix('"')?
                .split('"')
                .next()
                .map(str::to_owned)
        })
        .collect()
}

/// The files under `dir`, as `/`-separated paths relative to `base`.
fn list_files(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            list_files(base, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(base) {
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

/// Builds the reference server's binary (debug) and returns its path.
pub fn build_server() -> Result<PathBuf> {
    step("building the test-server binary");
    run(
        "cargo",
        &[
            "build",
            "-p",
            "servicestack-events-server",
            "--bin",
            "servicestack-events-server",
        ],
    )?;
    Ok(target_dir()
        .join("debug")
        .join("servicestack-events-server"))
}

/// Runs the browser and Node tests against the packed package.
pub fn test() -> Result {
    if let Err(error) = check_node() {
        if strict() {
            return Err(error);
        }
        eprintln!("warning: {error}; skipping the wasm leg");
        return Ok(());
    }
    let tarball = package()?;
    if dev_build() {
        eprintln!("warning: XTASK_WASM_DEV is set; the package size is not checked");
    } else {
        step("package size (wasm + JS, gzipped)");
        let sizes = wasm_size::measure_package(&root().join("client-wasm").join("pkg"))?;
        wasm_size::check_limit(&sizes, wasm_size::LIMIT_GZIP_BYTES)?;
        eprintln!(
            "{} B gzipped, within the limit of {} B",
            wasm_size::total_gzip(&sizes),
            wasm_size::LIMIT_GZIP_BYTES
        );
    }
    let server = build_server()?;
    let browser = has("chromium") && has("chromedriver");
    if !browser && strict() {
        return Err("Chromium and chromedriver are required in CI".into());
    }
    let mut args = vec![
        "tests-js/run.mjs".to_owned(),
        "--tarball".to_owned(),
        tarball.to_string_lossy().into_owned(),
        "--server".to_owned(),
        server.to_string_lossy().into_owned(),
        "--work".to_owned(),
        target_dir()
            .join("wasm-tests")
            .to_string_lossy()
            .into_owned(),
    ];
    if !browser {
        eprintln!("warning: no Chromium; running the Node leg only");
        args.push("--legs=node".to_owned());
    }
    step("browser and Node tests (client-wasm/tests-js)");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_in(&root().join("client-wasm"), "node", &args)
}

#[cfg(test)]
mod tests {
    use super::{json_paths, strip_doc_comments};

    #[test]
    fn doc_comments_leave_the_glue_and_the_rest_stays() {
        let glue = "/* @ts-self-types=\"./x.d.ts\" */\n\n/**\n * A class.\n */\nexport class A {\n    /**\n     * @returns {number}\n     */\n    f() { return \"/** not a comment */\"; }\n    /** One line. */\n    g() {}\n}\n";
        assert_eq!(
            strip_doc_comments(glue).unwrap(),
            "/* @ts-self-types=\"./x.d.ts\" */\n\nexport class A {\n    f() { return \"/** not a comment */\"; }\n    g() {}\n}\n"
        );
        assert!(strip_doc_comments("/**\n * never closed\n").is_err());
    }

    #[test]
    fn reads_the_file_list_of_npm_publish_json() {
        let json = r#"{"pkg": {"id": "pkg@0.1.0", "files": [
            {"path": "LICENSE-MIT", "size": 1, "mode": 420},
            {"path":"wasm/server_events_bg.wasm","size":2}
        ], "entryCount": 2}}"#;
        assert_eq!(
            json_paths(json),
            ["LICENSE-MIT", "wasm/server_events_bg.wasm"]
        );
        assert!(json_paths("{}").is_empty());
    }
}
