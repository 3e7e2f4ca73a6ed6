// The reference server (`test-server`, built by cargo) as a child process on an ephemeral port,
// one per scenario, and plain HTTP calls from the tests. Mirrors the Kotlin tests' TestServer.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

final class TestServer {
    private var process: Process
    let baseUrl: String
    private let profile: String

    static var binary: String {
        ProcessInfo.processInfo.environment["SERVEREVENTS_TEST_SERVER"] ?? "../../target/debug/servicestack-events-server"
    }

    /// The command-line flags of a server profile of FORMAT.md: the binary knows the profiles
    /// (`ServerConfig::for_profile`), so every leg gets the same; an unknown one stops it at start.
    static func flags(_ profile: String) throws -> [String] {
        ["--profile", profile]
    }

    private init(process: Process, baseUrl: String, profile: String) {
        self.process = process
        self.baseUrl = baseUrl
        self.profile = profile
    }

    /// Starts a server with `profile` on an ephemeral port.
    static func start(_ profile: String) throws -> TestServer {
        let (process, baseUrl) = try launch(profile, port: 0)
        return TestServer(process: process, baseUrl: baseUrl, profile: profile)
    }

    private static func launch(_ profile: String, port: Int) throws -> (Process, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        let profileFlags = try flags(profile)
        process.arguments = ["--host", "127.0.0.1", "--port", String(port)] + profileFlags
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The server prints exactly one line, `listening on http://HOST:PORT`.
        let reader = output.fileHandleForReading
        var line = Data()
        let deadline = Date().addingTimeInterval(15)
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = reader.availableData
            if chunk.isEmpty || Date() > deadline { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("listening on ") else {
            process.terminate()
            throw TestFailure("test-server printed '\(text)' instead of 'listening on http://HOST:PORT'")
        }
        var url = String(text.dropFirst("listening on ".count))
        while url.hasSuffix("/") { url.removeLast() }
        return (process, url)
    }

    /// Stops the server and starts it again on the same port.
    func restart() throws {
        stop()
        let port = URL(string: baseUrl)?.port ?? 0
        var failure: Error = TestFailure("the server could not start again on port \(port)")
        for _ in 0..<50 {
            do {
                process = try TestServer.launch(profile, port: port).0
                return
            } catch {
                failure = error
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        throw failure
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit {
        stop()
    }
}

/// Plain HTTP calls from the tests (not through the client).
enum Http {
    struct Response {
        let status: Int
        let body: String
    }

    static func send(_ method: String, _ url: String, body: Data? = nil, contentType: String = "application/json") async throws -> Response {
        guard let target = URL(string: url) else { throw TestFailure("not a URL: \(url)") }
        var request = URLRequest(url: target, timeoutInterval: 10)
        request.httpMethod = method.uppercased()
        if let body = body {
            request.httpBody = body
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        return try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error = error {
                    continuation.resume(throwing: error)
                } else {
                    let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                    continuation.resume(returning: Response(status: status, body: String(decoding: data ?? Data(), as: UTF8.self)))
                }
            }.resume()
        }
    }

    static func postJson(_ url: String, _ json: String) async throws -> Response {
        try await send("POST", url, body: Data(json.utf8))
    }

    static func get(_ url: String) async throws -> Response {
        try await send("GET", url)
    }
}
