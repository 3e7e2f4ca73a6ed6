package servicestack.serverevents

import java.io.File
import java.time.Duration
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertTimeoutPreemptively
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory

/**
 * Every conformance scenario whose `legs` include `"kotlin"`, one JUnit test each (named after
 * the scenario), replayed through the Kotlin API against a fresh reference server.
 */
class ConformanceTest {
    private val scenariosFile = File(
        System.getProperty("serverevents.scenarios")
            ?: error("the system property serverevents.scenarios (scenarios.json) is not set"),
    )

    private fun kotlinScenarios(): List<JsonObject> {
        check(scenariosFile.isFile) { "scenarios file not found: $scenariosFile" }
        val root = JsonValues.parse(scenariosFile.readText()).jsonObject
        val version = root["version"]?.jsonPrimitive?.content
        check(version == "1") { "scenarios.json version $version is not supported (expected 1)" }
        return root["scenarios"]!!.jsonArray.map { it.jsonObject }.filter { scenario ->
            scenario["legs"]?.jsonArray?.any { it.jsonPrimitive.content == "kotlin" } == true
        }
    }

    @TestFactory
    fun scenarios(): List<DynamicTest> {
        val scenarios = kotlinScenarios()
        check(scenarios.isNotEmpty()) { "no scenario in $scenariosFile names the kotlin leg" }
        return scenarios.map { scenario ->
            val name = scenario.str("name") ?: error("a scenario has no name")
            DynamicTest.dynamicTest(name) {
                // A scenario waits with its own timeouts; this only guards against a hang.
                assertTimeoutPreemptively(Duration.ofSeconds(60)) {
                    TestServer.start(scenario.str("server") ?: "default", name).use { server ->
                        ScenarioRunner(scenario, server).use { it.run() }
                    }
                }
            }
        }
    }
}
