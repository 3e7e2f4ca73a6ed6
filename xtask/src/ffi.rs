//! The mobile leg: uniffi bindings, the Kotlin tests and the Swift package (owned by the
//! client-ffi work).
//!
//! - `setup`: Maven and a JDK (Debian packages) for the Kotlin leg.
//! - `generate_bindings` (`cargo xtask bindings`): builds `libclient_ffi` (debug, unstripped: the
//!   generator reads uniffi's metadata from it) and the in-workspace `uniffi-bindgen`, writes the
//!   Kotlin bindings to `TARGET/bindings/kotlin` and the Swift sources into the Swift package
//!   kept in the repository (`client-ffi/swift`).
//! - `test`: the same build plus `test-server`; fails if the Swift sources in the repository are
//!   stale; lays the library out as JNA resources and runs `mvn package` (Kotlin compile, the
//!   jar with the library inside, the sources and javadoc jars, then the JUnit 5 tests through
//!   Surefire against that jar and the reference server); checks what the jars hold; runs
//!   `swift test` where `swift` is on PATH and says plainly that it skipped the Swift leg
//!   otherwise.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::util::{Result, ensure_apt, has, output, root, run, run_env, step, strict};

/// The Maven artifact id (client-ffi/kotlin/pom.xml); its jars are `ARTIFACT-VERSION[-…].jar`.
const MAVEN_ARTIFACT: &str = "servicestack-events";
/// The generated Swift file and where it lives in the package.
const SWIFT_SOURCE: (&str, &str) = (
    "ServerEvents.swift",
    "client-ffi/swift/Sources/ServerEvents/Generated/ServerEvents.swift",
);
/// The generated C header and where the `ClientFFI` system-library module expects it.
const SWIFT_HEADER: (&str, &str) = (
    "ClientFFI.h",
    "client-ffi/swift/Sources/ClientFFI/ClientFFI.h",
);

/// Installs what the Kotlin leg needs (Maven and a JDK); the Swift toolchain cannot be installed
/// from our package sources, so that leg runs only where `swift` already exists.
pub fn setup() -> Result {
    // `jar` (a JDK tool) lists the jars' contents for the checks after `mvn package`.
    if has("mvn") && has("java") && has("jar") {
        return Ok(());
    }
    match ensure_apt(&["maven", "default-jdk-headless"]) {
        Ok(()) => Ok(()),
        Err(error) if !strict() => {
            eprintln!(
                "warning: cannot install Maven and a JDK ({error}); the Kotlin leg will be skipped"
            );
            Ok(())
        }
        Err(error) => Err(format!("the Kotlin leg needs Maven and a JDK: {error}")),
    }
}

/// Cargo's target directory as cargo resolves it (`CARGO_TARGET_DIR`, config, or `target/`).
fn target_dir() -> Result<PathBuf> {
    let manifest = root().join("Cargo.toml");
    let manifest = manifest.to_string_lossy();
    let metadata = output(
        "cargo",
        &[
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
            &manifest,
        ],
    )?;
    json_string_field(&metadata, "target_directory")
        .map(PathBuf::from)
        .ok_or_else(|| "cargo metadata did not report a target_directory".to_string())
}

/// The string value of the first `"key": "…"` in `json` (enough for cargo metadata; xtask has
/// no JSON dependency).
fn json_string_field(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[start..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let mut value = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'u' => {
                    let code: String = chars.by_ref().take(4).collect();
                    value.push(char::from_u32(u32::from_str_radix(&code, 16).ok()?)?);
                }
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

/// The file name of the cdylib on this platform.
fn library_file() -> &'static str {
    if cfg!(target_os = "macos") {
        "libclient_ffi.dylib"
    } else if cfg!(windows) {
        "client_ffi.dll"
    } else {
        "libclient_ffi.so"
    }
}

/// What the legs need, built in the debug profile (unstripped).
struct Built {
    target: PathBuf,
    debug: PathBuf,
}

impl Built {
    fn library(&self) -> PathBuf {
        self.debug.join(library_file())
    }

    fn bindgen(&self) -> PathBuf {
        self.debug
            .join(format!("uniffi-bindgen{}", std::env::consts::EXE_SUFFIX))
    }

    fn test_server(&self) -> PathBuf {
        self.debug.join(format!(
            "servicestack-events-server{}",
            std::env::consts::EXE_SUFFIX
        ))
    }
}

/// Builds the library, the generator and the reference server in one invocation, always the
/// same set, so `bindings` and `test` share artifacts (a different set resolves features
/// differently and rebuilds).
fn build() -> Result<Built> {
    step("ffi: building libclient_ffi, uniffi-bindgen and test-server (debug, unstripped)");
    run(
        "cargo",
        &[
            "build",
            "-p",
            "client-ffi",
            "-p",
            "uniffi-bindgen",
            "-p",
            "servicestack-events-server",
        ],
    )?;
    let target = target_dir()?;
    let debug = target.join("debug");
    Ok(Built { target, debug })
}

fn text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Runs the generator for `language` into `out_dir` (emptied first).
fn generate(built: &Built, language: &str, out_dir: &Path) -> Result {
    if out_dir.exists() {
        std::fs::remove_dir_all(out_dir)
            .map_err(|e| format!("cannot empty {}: {e}", out_dir.display()))?;
    }
    let library = built.library();
    let bindgen = built.bindgen();
    let (library, bindgen, out) = (
        library.to_string_lossy(),
        bindgen.to_string_lossy(),
        out_dir.to_string_lossy(),
    );
    // The generator finds the crate's uniffi.toml through cargo metadata: run it in the workspace.
    run(
        &bindgen,
        &[
            "generate",
            &library,
            "--language",
            language,
            "--out-dir",
            &out,
            "--no-format",
        ],
    )
}

/// Generates the Kotlin bindings into the target directory; returns their folder.
fn generate_kotlin(built: &Built) -> Result<PathBuf> {
    let dir = built.target.join("bindings").join("kotlin");
    generate(built, "kotlin", &dir)?;
    Ok(dir)
}

/// Generates the Swift sources into the target directory; returns the (generated, repository)
/// path pairs.
fn generate_swift(built: &Built) -> Result<Vec<(PathBuf, PathBuf)>> {
    let dir = built.target.join("bindings").join("swift");
    generate(built, "swift", &dir)?;
    Ok([SWIFT_SOURCE, SWIFT_HEADER]
        .iter()
        .map(|(generated, kept)| (dir.join(generated), root().join(kept)))
        .collect())
}

/// `cargo xtask bindings`: Kotlin into the target directory, Swift into the repository.
pub fn generate_bindings() -> Result {
    let built = build()?;
    step("ffi: generating the Kotlin and Swift bindings");
    let kotlin = generate_kotlin(&built)?;
    for (generated, kept) in generate_swift(&built)? {
        std::fs::copy(&generated, &kept).map_err(|e| {
            format!(
                "cannot copy {} to {}: {e}",
                generated.display(),
                kept.display()
            )
        })?;
        eprintln!("wrote {}", kept.display());
    }
    eprintln!("Kotlin bindings: {}", kotlin.display());
    Ok(())
}

/// Fails when the Swift sources kept in the repository differ from what the library generates.
fn check_swift_sources(built: &Built) -> Result {
    step("ffi: checking that the Swift package's generated sources are current");
    for (generated, kept) in generate_swift(built)? {
        if text(&generated)? != text(&kept).unwrap_or_default() {
            return Err(format!(
                "{} is stale or missing: run `cargo xtask bindings` and commit the result",
                kept.display()
            ));
        }
    }
    Ok(())
}

fn path_arg(flag: &str, path: &Path) -> String {
    format!("-D{flag}={}", path.display())
}

/// JNA's name for this platform (`Platform.RESOURCE_PREFIX`): the folder of the jar it loads
/// native libraries from.
fn jna_platform() -> String {
    jna_platform_of(std::env::consts::OS, std::env::consts::ARCH)
}

/// JNA's platform name for Rust's `OS` and `ARCH` constants.
fn jna_platform_of(os: &str, arch: &str) -> String {
    let os = match os {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    let arch = match arch {
        "x86_64" => "x86-64",
        other => other,
    };
    format!("{os}-{arch}")
}

/// Copies the library to `TARGET/jna-resources/PLATFORM/`, the folder the pom packs into the jar.
fn lay_out_jna_resources(built: &Built) -> Result<(PathBuf, String)> {
    let resources = built.target.join("jna-resources");
    if resources.exists() {
        std::fs::remove_dir_all(&resources)
            .map_err(|e| format!("cannot empty {}: {e}", resources.display()))?;
    }
    let entry = format!("{}/{}", jna_platform(), library_file());
    let destination = resources.join(&entry);
    std::fs::create_dir_all(destination.parent().unwrap_or(&resources))
        .map_err(|e| format!("cannot create {}: {e}", resources.display()))?;
    std::fs::copy(built.library(), &destination).map_err(|e| {
        format!(
            "cannot copy {} to {}: {e}",
            built.library().display(),
            destination.display()
        )
    })?;
    Ok((resources, entry))
}

/// The entries of a jar (`jar tf`).
fn jar_entries(jar: &Path) -> Result<Vec<String>> {
    if !jar.exists() {
        return Err(format!(
            "mvn package did not produce {} (is the pom's version the workspace's?)",
            jar.display()
        ));
    }
    let listing = output("jar", &["tf", &jar.to_string_lossy()])?;
    Ok(listing.lines().map(str::to_owned).collect())
}

/// Fails unless `mvn package` produced the three jars a Maven repository needs, with the native
/// library, the generated and hand-written code, and the API docs in them.
fn check_jars(native_entry: &str) -> Result {
    step("ffi: checking the jars (library, sources, javadoc)");
    let version = crate::wasm::workspace_field("version")?;
    let dir = root().join("client-ffi/kotlin/target");
    let jar = |suffix: &str| dir.join(format!("{MAVEN_ARTIFACT}-{version}{suffix}.jar"));
    let require = |entries: &[String], wanted: &str, jar: &Path| -> Result {
        if entries.iter().any(|entry| entry == wanted) {
            Ok(())
        } else {
            Err(format!("{} has no {wanted}", jar.display()))
        }
    };
    let main = jar("");
    let entries = jar_entries(&main)?;
    for wanted in [
        native_entry,
        "servicestack/serverevents/ffi/ServerEventsClient.class",
        "servicestack/serverevents/ServerEvents.class",
        "META-INF/LICENSE-MIT",
        "META-INF/LICENSE-APACHE",
    ] {
        require(&entries, wanted, &main)?;
    }
    let sources = jar("-sources");
    let entries = jar_entries(&sources)?;
    for wanted in [
        "servicestack/serverevents/ffi/client_ffi.kt",
        "servicestack/serverevents/ServerEvents.kt",
    ] {
        require(&entries, wanted, &sources)?;
    }
    let javadoc = jar("-javadoc");
    let entries = jar_entries(&javadoc)?;
    require(&entries, "index.html", &javadoc)?;
    if !entries
        .iter()
        .any(|entry| entry.contains("ServerEventsClient") && entry.ends_with(".html"))
    {
        return Err(format!(
            "{} documents no ServerEventsClient",
            javadoc.display()
        ));
    }
    eprintln!(
        "jars: {} (with {native_entry}), -sources, -javadoc",
        main.display()
    );
    Ok(())
}

fn kotlin_tests(built: &Built, bindings: &Path) -> Result {
    if !(has("mvn") && has("java") && has("jar")) {
        if strict() {
            return Err(
                "the Kotlin leg needs `mvn`, `java` and `jar` on PATH (cargo xtask setup installs them)"
                    .into(),
            );
        }
        eprintln!(
            "\nKotlin leg SKIPPED: `mvn`, `java` or `jar` is not on PATH (run `cargo xtask setup`)"
        );
        return Ok(());
    }
    step("ffi: mvn package (jars) and the Kotlin tests (JUnit 5) against the reference server");
    let started = Instant::now();
    let (resources, native_entry) = lay_out_jna_resources(built)?;
    let pom = root().join("client-ffi/kotlin/pom.xml");
    let scenarios = root().join("conformance-tests/scenarios/scenarios.json");
    let args = [
        "-B".to_string(),
        "-ntp".to_string(),
        "-f".to_string(),
        pom.display().to_string(),
        // clean: the jars are checked below, and stale classes or another build's library left
        // in target/classes must not end up in them.
        "clean".to_string(),
        "package".to_string(),
        path_arg("cargo.target.dir", &built.target),
        path_arg("bindings.dir", bindings),
        path_arg("native.resources", &resources),
        path_arg("test.server", &built.test_server()),
        path_arg("scenarios", &scenarios),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run("mvn", &args)?;
    check_jars(&native_entry)?;
    eprintln!(
        "Kotlin leg passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn swift_tests(built: &Built) -> Result {
    if !has("swift") {
        eprintln!(
            "\nSwift leg SKIPPED: no `swift` toolchain on PATH (none can be installed on this machine). \
             The Swift package in client-ffi/swift was checked to match the library, but not compiled or run."
        );
        return Ok(());
    }
    step("ffi: Swift tests (swift test) against the reference server");
    let started = Instant::now();
    let package = root().join("client-ffi/swift");
    let debug = built.debug.display().to_string();
    let search_path = format!("-L{debug}");
    let library_path_var = if cfg!(target_os = "macos") {
        "DYLD_LIBRARY_PATH"
    } else {
        "LD_LIBRARY_PATH"
    };
    let test_server = built.test_server().display().to_string();
    let scenarios = root()
        .join("conformance-tests/scenarios/scenarios.json")
        .display()
        .to_string();
    let package_path = package.display().to_string();
    run_env(
        &root(),
        "swift",
        &[
            "test",
            "--package-path",
            &package_path,
            "-Xlinker",
            &search_path,
            "-Xlinker",
            "-rpath",
            "-Xlinker",
            &debug,
        ],
        &[
            (library_path_var, debug.as_str()),
            ("SERVEREVENTS_TEST_SERVER", test_server.as_str()),
            ("SERVEREVENTS_SCENARIOS", scenarios.as_str()),
        ],
    )?;
    eprintln!(
        "Swift leg passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs the Kotlin tests, and the Swift ones where `swift` exists.
pub fn test() -> Result {
    let built = build()?;
    step("ffi: generating the Kotlin bindings");
    let bindings = generate_kotlin(&built)?;
    check_swift_sources(&built)?;
    kotlin_tests(&built, &bindings)?;
    swift_tests(&built)
}

#[cfg(test)]
mod tests {
    use super::{jna_platform_of, json_string_field};

    #[test]
    fn names_platforms_as_jna_does() {
        assert_eq!(jna_platform_of("linux", "x86_64"), "linux-x86-64");
        assert_eq!(jna_platform_of("linux", "aarch64"), "linux-aarch64");
        assert_eq!(jna_platform_of("macos", "aarch64"), "darwin-aarch64");
        assert_eq!(jna_platform_of("macos", "x86_64"), "darwin-x86-64");
        assert_eq!(jna_platform_of("windows", "x86_64"), "win32-x86-64");
    }

    #[test]
    fn reads_the_target_directory_from_cargo_metadata() {
        let json = r#"{"packages":[],"target_directory" : "/w/t\\x \"q\"","version":1}"#;
        assert_eq!(
            json_string_field(json, "target_directory").as_deref(),
            Some("/w/t\\x \"q\"")
        );
        assert_eq!(json_string_field(json, "missing"), None);
    }
}
