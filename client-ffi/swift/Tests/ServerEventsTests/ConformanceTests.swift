// Every conformance scenario whose `legs` include "swift", replayed through the Swift API against
// a fresh reference server each (the Kotlin tests' ConformanceTest, for Swift). XCTest has no
// dynamic tests, so one test runs them all and reports each failing scenario by name.

import Foundation
import XCTest

final class ConformanceTests: XCTestCase {
    private var scenariosPath: String {
        ProcessInfo.processInfo.environment["SERVEREVENTS_SCENARIOS"]
            ?? "../../conformance-tests/scenarios/scenarios.json"
    }

    private func swiftScenarios() throws -> [[String: JSON]] {
        let text = try String(contentsOfFile: scenariosPath, encoding: .utf8)
        let root = try JSON.parse(text)
        guard root["version"]?.numberValue == 1 else { throw TestFailure("scenarios.json version is not 1") }
        return (root["scenarios"]?.arrayValue ?? []).compactMap { $0.objectValue }.filter { scenario in
            (scenario["legs"]?.arrayValue ?? []).contains(.string("swift"))
        }
    }

    func testEverySwiftScenario() async throws {
        let scenarios = try swiftScenarios()
        XCTAssertFalse(scenarios.isEmpty, "no scenario in \(scenariosPath) names the swift leg")
        var failed: [String] = []
        for scenario in scenarios {
            let name = scenario["name"]?.stringValue ?? "?"
            let started = Date()
            do {
                let server = try TestServer.start(scenario["server"]?.stringValue ?? "default")
                let runner = ScenarioRunner(scenario: scenario, server: server)
                do {
                    try await runner.run()
                    await runner.finish()
                    server.stop()
                } catch {
                    await runner.finish()
                    server.stop()
                    throw error
                }
                print("scenario \(name) passed in \(Int(Date().timeIntervalSince(started) * 1000)) ms")
            } catch {
                failed.append(name)
                XCTFail("\(error)")
            }
        }
        print("\(scenarios.count - failed.count) of \(scenarios.count) swift scenarios passed")
        XCTAssertEqual(failed, [], "failed scenarios")
    }
}
