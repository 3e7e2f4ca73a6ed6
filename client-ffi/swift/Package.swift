// swift-tools-version:5.9
//
// The Server Events client for Swift: the uniffi bindings of the Rust client (generated from
// libclient_ffi by `cargo xtask bindings`, kept in Sources/ServerEvents/Generated) and a thin
// async/await layer (Sources/ServerEvents/ServerEvents+Async.swift).
//
// The native library is linked as a system library (Sources/ClientFFI/module.modulemap links
// `client_ffi`). Build it with `cargo build -p client-ffi` and tell the linker where it is:
//   swift test -Xlinker -L<target>/debug -Xlinker -rpath -Xlinker <target>/debug
// For iOS apps, build an XCFramework instead (see client-ffi/README.md).
// Only Foundation is used (no Darwin-only API), so the package builds on Linux too.

import PackageDescription

let package = Package(
    name: "ServerEvents",
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [
        .library(name: "ServerEvents", targets: ["ServerEvents"]),
    ],
    targets: [
        .systemLibrary(name: "ClientFFI", path: "Sources/ClientFFI"),
        .target(name: "ServerEvents", dependencies: ["ClientFFI"], path: "Sources/ServerEvents"),
        .testTarget(name: "ServerEventsTests", dependencies: ["ServerEvents"], path: "Tests/ServerEventsTests"),
    ]
)
