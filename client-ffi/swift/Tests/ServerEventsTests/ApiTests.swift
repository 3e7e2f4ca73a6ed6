// The Swift API beyond the scenarios, mirroring the Kotlin tests' ApiTest: the async layer
// (AsyncStreams, closures, receivers), errors as Swift errors, credentials providers, and that
// releasing a client unregisters it.

import Foundation
import ServerEvents
import XCTest

/// Collects values from callbacks and lets a test wait for them with a deadline.
final class Inbox<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [T] = []

    func put(_ item: T) {
        condition.lock()
        items.append(item)
        condition.broadcast()
        condition.unlock()
    }

    /// The first item, waiting up to `seconds` for it.
    func first(within seconds: TimeInterval) -> T? {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty {
            if !condition.wait(until: deadline) { break }
        }
        return items.first
    }
}

/// A `ResolveStreamUrl` that moves the subscription to another channel.
final class ToLobby: StreamUrlResolver, @unchecked Sendable {
    func resolve(url: String) -> String {
        url.replacingOccurrences(of: "channels=home", with: "channels=lobby")
    }
}

final class CountingProvider: CredentialsProvider, @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    var asked: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    func credentials(refresh: Bool) async throws -> Credentials {
        lock.lock()
        count += 1
        lock.unlock()
        return Credentials(headers: ["X-Test": "1"])
    }
}

final class ApiTests: XCTestCase {
    private var server: TestServer!

    override func setUpWithError() throws {
        server = try TestServer.start("default")
    }

    override func tearDown() {
        server.stop()
    }

    private func client(_ channels: [String] = ["home"], options: ClientOptions? = nil) throws -> ServerEventsClient {
        try ServerEventsClient(baseUrl: server.baseUrl, options: options ?? ClientOptions(channels: channels))
    }

    private func subscriptionCount() async throws -> Int {
        let reply = try await Http.get("\(server.baseUrl)/test/stats")
        return try JSON.parse(reply.body)["subscriptionCount"]?.intValue ?? -1
    }

    private func chat(_ client: ServerEventsClient, _ message: String, selector: String = "cmd.chat") async throws {
        let body = #"{"from":"\#(client.subscriptionId() ?? "")","channel":"home","message":"\#(message)","selector":"\#(selector)"}"#
        _ = try await client.postJson(path: "/channels/home/chat", requestJson: body)
    }

    func testABadBaseUrlIsAnErrorWithItsFields() throws {
        XCTAssertThrowsError(try ServerEventsClient(baseUrl: "localhost:5000")) { error in
            guard case let .InvalidUrl(url, _)? = error as? ServerEventsError else {
                return XCTFail("expected InvalidUrl, got \(error)")
            }
            XCTAssertEqual(url, "localhost:5000")
            XCTAssertEqual((error as? ServerEventsError)?.kind(), "invalidUrl")
        }
        XCTAssertThrowsError(try self.client(["a@b"]))
    }

    func testMessagesArriveAsAnAsyncStreamAndStopUnregisters() async throws {
        let client = try self.client()
        let info = try await client.connect()
        XCTAssertEqual(info.channels, ["home"])
        XCTAssertTrue(client.isConnected)
        let stream = client.messageStream()
        try await chat(client, "one")
        try await chat(client, "two")
        var received: [ServerEventMessage] = []
        for await message in stream where message.target == "chat" {
            received.append(message)
            if received.count == 2 { break }
        }
        XCTAssertEqual(received.map { JSON.body($0.json)["message"]?.stringValue }, ["one", "two"])
        await client.stop()
        let count = try await subscriptionCount()
        XCTAssertEqual(count, 0)
        guard case .closed = client.state() else { return XCTFail("expected closed, got \(client.state())") }
    }

    func testReleasingTheClientStopsItAndUnregisters() async throws {
        var client: ServerEventsClient? = try self.client()
        _ = try await client!.connect()
        let before = try await subscriptionCount()
        XCTAssertEqual(before, 1)
        client = nil
        let deadline = Date().addingTimeInterval(5)
        var count = try await subscriptionCount()
        while count != 0 && Date() < deadline {
            try await Task.sleep(nanoseconds: 20_000_000)
            count = try await subscriptionCount()
        }
        XCTAssertEqual(count, 0)
    }

    func testHandlersTriggerListenersAndReceiversTakeClosures() async throws {
        let client = try self.client()
        let chats = Inbox<String>()
        let triggers = Inbox<String>()
        let received = Inbox<String>()
        client.registerHandler("chat") { chats.put($0.json) }
        client.addListener("refresh") { triggers.put($0.json) }
        client.registerNamedReceiver("tv", create: { "instance" }) { r in
            r.member("watch", argumentType: "Video") { _, message in received.put("watch " + message.json) }
        }
        _ = try await client.connect()
        try await chat(client, "hello")
        let from = client.subscriptionId() ?? ""
        _ = try await client.postJson(path: "/channels/home/raw", requestJson: #"{"from":"\#(from)","channel":"home","selector":"trigger.refresh","message":"now"}"#)
        _ = try await client.postJson(path: "/channels/home/raw", requestJson: #"{"from":"\#(from)","channel":"home","selector":"tv.Video","message":"cats"}"#)
        XCTAssertTrue(chats.first(within: 10)?.contains("hello") ?? false)
        XCTAssertTrue(triggers.first(within: 10)?.contains("now") ?? false)
        XCTAssertTrue(received.first(within: 10)?.contains("cats") ?? false)
        await client.stop()
    }

    func testACallbackThatThrowsReachesOnExceptionAndTheClientCarriesOn() async throws {
        let client = try self.client()
        let errors = Inbox<ServerEventsError>()
        client.registerHandler("chat") { _ in throw TestFailure("boom") }
        client.addEventListener(onException: { errors.put($0) })
        _ = try await client.connect()
        try await chat(client, "hello")
        guard case let .ListenerFailed(callback, detail)? = errors.first(within: 10) else {
            return XCTFail("expected ListenerFailed")
        }
        XCTAssertEqual(callback, "cmd.chat")
        XCTAssertTrue(detail.contains("boom"), detail)
        XCTAssertTrue(client.isConnected)
        await client.stop()
    }

    func testAMessageStreamThatFallsBehindKeepsTheNewestMessageBufferMessages() async throws {
        let client = try self.client(options: ClientOptions(channels: ["home"], messageBuffer: 2))
        let errors = Inbox<ServerEventsError>()
        // The gate message's listener holds the dispatch (listeners run before streams get a
        // message), so meanwhile the stream holds exactly what came before the gate.
        let atGate = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        client.addEventListener(
            onMessage: { message in
                if message.json.contains(#""gate""#) {
                    atGate.signal()
                    _ = release.wait(timeout: .now() + 10)
                }
            },
            onException: { errors.put($0) }
        )
        let stream = client.messages()
        _ = try await client.connect()
        for text in ["m0", "m1", "m2", "m3", "gate"] {
            try await chat(client, text)
        }
        XCTAssertEqual(atGate.wait(timeout: .now() + 10), .success, "the gate message arrives")
        let first = await stream.next()
        let second = await stream.next()
        release.signal()
        let kept = try [first, second].map { try JSON.parse($0?.json ?? "{}")["message"]?.stringValue ?? "" }
        XCTAssertEqual(kept, ["m2", "m3"])
        guard case let .MessagesDropped(bound)? = errors.first(within: 10) else {
            return XCTFail("expected MessagesDropped")
        }
        XCTAssertEqual(bound, 2)
        stream.cancel()
        await client.stop()
    }

    func testAllowedOriginsMustBeHttpOrigins() throws {
        XCTAssertThrowsError(try client(options: ClientOptions(allowedOrigins: ["127.0.0.2"]))) { error in
            guard case .InvalidArgument? = error as? ServerEventsError else {
                return XCTFail("expected InvalidArgument, got \(error)")
            }
        }
        XCTAssertNoThrow(try client(options: ClientOptions(allowedOrigins: ["http://127.0.0.2:5000"])))
    }

    func testStatesArriveAsAnAsyncStream() async throws {
        let client = try self.client()
        let states = client.stateStream()
        _ = try await client.connect()
        var opened: String?
        for await state in states {
            if case let .open(subscriptionId) = state {
                opened = subscriptionId
                break
            }
        }
        XCTAssertEqual(opened, client.subscriptionId())
        await client.stop()
    }

    func testAFailedFirstConnectThrowsAndClosesTheClient() async throws {
        let client = try ServerEventsClient(baseUrl: "http://127.0.0.1:1", options: ClientOptions(reconnectPolicy: .never))
        do {
            _ = try await client.connect()
            XCTFail("connect should fail")
        } catch let error as ServerEventsError {
            XCTAssertEqual(error.kind(), "network")
        }
        guard case .closed(.connectFailed) = client.state() else {
            return XCTFail("expected closed/connectFailed, got \(client.state())")
        }
    }

    func testServiceCallsTakeAndReturnJson() async throws {
        let client = try self.client()
        _ = try await client.connect()
        do {
            _ = try await client.postJson(path: "/x", requestJson: "{not json")
            XCTFail("invalid JSON should be refused")
        } catch ServerEventsError.InvalidArgument(let reason) {
            XCTAssertTrue(reason.contains("not JSON"), reason)
        }
        do {
            _ = try await client.getJson(path: "/no/such/route")
            XCTFail("a missing route should fail")
        } catch let error as ServerEventsError {
            XCTAssertEqual(error.httpStatus(), 404)
        }
        let response = try await client.authenticate(userName: "user", password: "pass")
        let auth = try JSON.parse(response)
        XCTAssertNotNil(auth.objectValue)
        do {
            _ = try await client.authenticate(userName: "user", password: "wrong")
            XCTFail("a wrong password should fail")
        } catch let error as ServerEventsError {
            XCTAssertEqual(error.httpStatus(), 401)
        }
        await client.stop()
    }

    func testACredentialsProviderIsAskedBeforeRequests() async throws {
        let provider = CountingProvider()
        let client = try ServerEventsClient(baseUrl: server.baseUrl, options: ClientOptions(channels: ["home"]), credentials: provider)
        _ = try await client.connect()
        XCTAssertGreaterThanOrEqual(provider.asked, 1)
        await client.stop()
    }

    func testAStreamUrlResolverRewritesTheUrlThatIsOpened() async throws {
        let client = try ServerEventsClient(baseUrl: server.baseUrl, options: ClientOptions(channels: ["home"]), resolveStreamUrl: ToLobby())
        XCTAssertTrue(client.eventStreamUrl().hasSuffix("?channels=lobby"))
        let info = try await client.connect()
        XCTAssertEqual(info.channels, ["lobby"], "the server saw the rewritten URL")
        await client.stop()
    }
}
