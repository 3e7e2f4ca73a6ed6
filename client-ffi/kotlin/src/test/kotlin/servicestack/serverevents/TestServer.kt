package servicestack.serverevents

import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.util.concurrent.CompletableFuture
import java.util.concurrent.TimeUnit

/**
 * One reference server (`test-server`, built by cargo) running as a child process on an
 * ephemeral port. Every scenario gets its own, started with the settings of its profile.
 */
class TestServer private constructor(
    private var process: Process,
    val baseUrl: String,
    private val profile: String,
    private val logName: String,
) : AutoCloseable {
    companion object {
        private val binary: String = System.getProperty("serverevents.testServer")
            ?: error("the system property serverevents.testServer (the test-server binary) is not set")

        private val logDir = File(System.getProperty("serverevents.logDir") ?: "target/test-server-logs")

        /**
         * The command-line flags of a server profile of conformance-tests/scenarios/FORMAT.md:
         * the binary knows the profiles (`ServerConfig::for_profile`), so every leg gets the same.
         */
        fun flags(profile: String): List<String> = listOf("--profile", profile)

        /** Starts a server with [profile]; its log (stderr) goes to `target/test-server-logs/[logName].log`. */
        fun start(profile: String, logName: String): TestServer {
            val (process, baseUrl) = launch(profile, logName, 0)
            return TestServer(process, baseUrl, profile, logName)
        }

        private fun launch(profile: String, logName: String, port: Int): Pair<Process, String> {
            check(File(binary).canExecute()) { "test-server binary not found at $binary (cargo build -p servicestack-events-server)" }
            logDir.mkdirs()
            val process = ProcessBuilder(listOf(binary, "--host", "127.0.0.1", "--port", "$port") + flags(profile))
                .redirectError(ProcessBuilder.Redirect.appendTo(File(logDir, "$logName.log")))
                .start()
            val reader = process.inputStream.bufferedReader()
            val line = try {
                CompletableFuture.supplyAsync { reader.readLine() }.get(15, TimeUnit.SECONDS)
            } catch (e: Exception) {
                process.destroyForcibly()
                throw IllegalStateException("test-server did not report its address within 15 s", e)
            }
            if (line == null || !line.startsWith("listening on ")) {
                process.destroyForcibly()
                throw IllegalStateException("test-server printed '$line' instead of 'listening on http://HOST:PORT'")
            }
            return process to line.removePrefix("listening on ").trim().trimEnd('/')
        }
    }

    /**
     * Stops the server and starts it again on the same port with the same profile (the port
     * was just released, so binding is retried for up to a second).
     */
    fun restart() {
        close()
        val port = URI.create(baseUrl).port
        var failure: Exception? = null
        repeat(50) {
            try {
                process = launch(profile, logName, port).first
                return
            } catch (e: IllegalStateException) {
                failure = e
                Thread.sleep(20)
            }
        }
        throw IllegalStateException("the server could not start again on port $port", failure)
    }

    /**
     * SIGTERM first: the server shuts down cleanly, and the `cluster` profile's server also
     * stops the redis-server it started (a SIGKILL would leave that one running). Killed
     * outright only if it has not exited within 10 s.
     */
    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly()
            process.waitFor(10, TimeUnit.SECONDS)
        }
    }
}

/** Plain HTTP calls from the tests (not through the client). */
object Http {
    private val client: HttpClient = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()

    /** The response of one call. */
    data class Response(val status: Int, val body: String)

    fun send(method: String, url: String, body: ByteArray? = null, contentType: String = "application/json"): Response {
        val builder = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
        val publisher = if (body == null) HttpRequest.BodyPublishers.noBody() else HttpRequest.BodyPublishers.ofByteArray(body)
        if (body != null) builder.header("Content-Type", contentType)
        builder.method(method.uppercase(), publisher)
        val response = client.send(builder.build(), HttpResponse.BodyHandlers.ofString())
        return Response(response.statusCode(), response.body())
    }

    fun postJson(url: String, json: String): Response = send("POST", url, json.toByteArray())

    fun get(url: String): Response = send("GET", url)
}
