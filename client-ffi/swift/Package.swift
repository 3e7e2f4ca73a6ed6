// swift-tools-version:5.9
//
// The Server Events client for Swift: the uniffi bindings of the Rust client (generated from
// libclient_ffi by `cargo xtask bindings`, kept in Sources/ServerEvents/Generated) and a thin
// async/await layer (Sources/ServerEvents/ServerEvents+Async.swift). One product, the library
// `ServerEvents`; apps `import ServerEvents`.
//
// The native library, the module `ClientFFI`, comes in one of two forms:
// - Apple platforms (iOS, macOS apps): `ClientFFI.xcframework` next to this manifest, the static
//   libraries for device, simulators and macOS with the header (client-ffi/README.md, "iOS and
//   macOS apps", builds it). When that folder exists it is used as a binary target.
// - Otherwise (Linux, and macOS development against a local build): a system library
//   (Sources/ClientFFI/module.modulemap links `client_ffi`). Build it with
//   `cargo build -p client-ffi` and tell the linker where it is:
//     swift test -Xlinker -L<target>/debug -Xlinker -rpath -Xlinker <target>/debug
// Only Foundation is used (no Darwin-only API), so the package builds on Linux too.

import Foundation
import PackageDescription

/// The XCFramework's path relative to this manifest (SwiftPM wants binary-target paths relative).
let xcframework = "ClientFFI.xcframework"
let hasXCFramework = FileManager.default.fileExists(
    atPath: Context.packageDirectory + "/" + xcframework)

let clientFFI: Target = hasXCFramework
    ? .binaryTarget(name: "ClientFFI", path: xcframework)
    : .systemLibrary(name: "ClientFFI", path: "Sources/ClientFFI")

let package = Package(
    name: "ServerEvents",
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [
        .library(name: "ServerEvents", targets: ["ServerEvents"]),
    ],
    targets: [
        clientFFI,
        .target(
            name: "ServerEvents",
            dependencies: ["ClientFFI"],
            path: "Sources/ServerEvents",
            // The XCFramework holds static libraries: their Rust code (the certificate verifier,
            // system proxy settings) needs these frameworks at link time; the system-library
            // form links the shared library, which carries its own.
            linkerSettings: [
                .linkedFramework("Security", .when(platforms: [.iOS, .macOS])),
                .linkedFramework("SystemConfiguration", .when(platforms: [.iOS, .macOS])),
                .linkedFramework("CoreFoundation", .when(platforms: [.iOS, .macOS])),
            ]
        ),
        .testTarget(
            name: "ServerEventsTests",
            dependencies: ["ServerEvents"],
            path: "Tests/ServerEventsTests"
        ),
    ]
)
