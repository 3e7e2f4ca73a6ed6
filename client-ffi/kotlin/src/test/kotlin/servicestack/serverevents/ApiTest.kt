package servicestack.serverevents

import java.net.ServerSocket
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.filter
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInfo
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.assertThrows
import servicestack.serverevents.ffi.ClientOptions
import servicestack.serverevents.ffi.CloseReason
import servicestack.serverevents.ffi.ConnectionState
import servicestack.serverevents.ffi.Credentials
import servicestack.serverevents.ffi.CredentialsProvider
import servicestack.serverevents.ffi.ReconnectPolicy
import servicestack.serverevents.ffi.ServerEventsClient
import servicestack.serverevents.ffi.ServerEventsException
import servicestack.serverevents.ffi.StreamUrlResolver

/**
 * The Kotlin API beyond the scenarios: the idiomatic layer (Flows, lambdas, receivers), errors
 * as exceptions, credentials providers, and that closing a client unregisters it. Mirrored by
 * the Swift package's ApiTests.
 */
@Timeout(60)
class ApiTest {
    private lateinit var server: TestServer

    @BeforeEach
    fun startServer(info: TestInfo) {
        server = TestServer.start("default", "api-" + info.testMethod.get().name)
    }

    @AfterEach
    fun stopServer() = server.close()

    private fun client(vararg channels: String, options: ClientOptions = ClientOptions(channels = channels.toList())) =
        ServerEventsClient(server.baseUrl, options)

    private fun subscriptionCount(): Int =
        JsonValues.parse(Http.get("${server.baseUrl}/test/stats").body).jsonObject["subscriptionCount"]!!.jsonPrimitive.int

    /** Polls the server's count until it is [expected] (a condition with a deadline, not a sleep). */
    private fun awaitSubscriptionCount(expected: Int) {
        val deadline = System.nanoTime() + 5_000_000_000L
        while (subscriptionCount() != expected) {
            check(System.nanoTime() < deadline) { "the server still lists ${subscriptionCount()} subscriptions, expected $expected" }
            Thread.onSpinWait()
        }
    }

    private suspend fun ServerEventsClient.chat(channel: String, message: String, selector: String = "cmd.chat") {
        val body = """{"from":"${subscriptionId()}","channel":"$channel","message":"$message","selector":"$selector"}"""
        postJson("/channels/$channel/chat", body)
    }

    @Test
    fun `a bad base URL is an exception with its fields`() {
        val error = assertThrows<ServerEventsException.InvalidUrl> { ServerEventsClient("localhost:5000") }
        assertEquals("localhost:5000", error.url)
        assertTrue(error.toString().startsWith("invalid URL"), error.toString())
        assertThrows<ServerEventsException.InvalidArgument> { client("a@b") }
    }

    @Test
    fun `messages arrive as a flow and stop unregisters`(): Unit = runBlocking {
        client("home").use { client ->
            val info = client.connect()
            assertEquals(listOf("home"), info.channels)
            assertTrue(client.isConnected)
            val received = async {
                client.messageFlow().filter { it.target == "chat" }.take(2).toList()
            }
            // A flow subscribes when collected; `received` starts collecting before `seen` (one
            // thread), so once `seen` has a ping, `received` is subscribed too.
            val first = withTimeout(10.seconds) {
                val seen = async { client.messageFlow().first() }
                while (!seen.isCompleted) client.chat("home", "ping", selector = "cmd.ping")
                seen.await()
            }
            assertEquals("home", first.channel)
            client.chat("home", "one")
            client.chat("home", "two")
            val messages = withTimeout(10.seconds) { received.await() }
            assertEquals(2, messages.size)
            assertTrue(messages.all { it.selector == "cmd.chat" })
            client.stop()
            assertEquals(0, subscriptionCount())
            assertInstanceOf(ConnectionState.Closed::class.java, client.state())
        }
    }

    @Test
    fun `closing the object stops the client and unregisters`(): Unit = runBlocking {
        val client = client("home")
        client.connect()
        assertEquals(1, subscriptionCount())
        client.close()
        awaitSubscriptionCount(0)
    }

    @Test
    fun `handlers, trigger listeners and receivers take lambdas`(): Unit = runBlocking {
        client("home").use { client ->
            val chats = CompletableDeferred<String>()
            val triggers = CompletableDeferred<String>()
            val received = CompletableDeferred<String>()
            client.registerHandler("chat") { chats.complete(it.json) }
            client.addListener("refresh") { triggers.complete(it.json) }
            client.registerNamedReceiver("tv", { StringBuilder() }) {
                member("watch", argumentType = "Video") { msg -> received.complete("watch " + msg.json) }
            }
            client.connect()
            client.chat("home", "hello")
            val from = client.subscriptionId()
            client.postJson("/channels/home/raw", """{"from":"$from","channel":"home","selector":"trigger.refresh","message":"now"}""")
            client.postJson("/channels/home/raw", """{"from":"$from","channel":"home","selector":"tv.Video","message":"cats"}""")
            withTimeout(10.seconds) {
                assertTrue(chats.await().contains("hello"))
                assertTrue(triggers.await().contains("now"))
                assertTrue(received.await().startsWith("watch") && received.await().contains("cats"))
            }
        }
    }

    @Test
    fun `a callback that throws reaches onException and the client carries on`(): Unit = runBlocking {
        client("home").use { client ->
            val errors = CopyOnWriteArrayList<ServerEventsException>()
            val gotError = CompletableDeferred<Unit>()
            client.registerHandler("chat") { throw IllegalStateException("boom") }
            client.addEventListener(onException = { errors += it; gotError.complete(Unit) })
            client.connect()
            client.chat("home", "hello")
            withTimeout(10.seconds) { gotError.await() }
            val error = assertInstanceOf(ServerEventsException.ListenerFailed::class.java, errors.first())
            assertEquals("cmd.chat", error.callback)
            assertTrue(error.detail.contains("boom"), error.detail)
            assertTrue(client.isConnected)
        }
    }

    @Test
    fun `a message stream that falls behind keeps the newest messageBuffer messages`(): Unit = runBlocking {
        client(options = ClientOptions(channels = listOf("home"), messageBuffer = 2u)).use { client ->
            val errors = CopyOnWriteArrayList<ServerEventsException>()
            // The gate message's listener holds the dispatch (listeners run before streams get a
            // message), so meanwhile the stream holds exactly what came before the gate.
            val atGate = CountDownLatch(1)
            val release = CountDownLatch(1)
            client.addEventListener(
                onMessage = {
                    if (it.json.contains("\"gate\"")) {
                        atGate.countDown()
                        release.await(10, TimeUnit.SECONDS)
                    }
                },
                onException = { errors += it },
            )
            val stream = client.messages()
            client.connect()
            for (text in listOf("m0", "m1", "m2", "m3", "gate")) client.chat("home", text)
            assertTrue(atGate.await(10, TimeUnit.SECONDS), "the gate message arrives")
            val kept = withTimeout(10.seconds) { listOf(stream.next()!!, stream.next()!!) }
            release.countDown()
            assertEquals(listOf("m2", "m3"), kept.map { JsonValues.parse(it.json).jsonObject["message"]!!.jsonPrimitive.content })
            val dropped = assertInstanceOf(ServerEventsException.MessagesDropped::class.java, errors.single())
            assertEquals(2uL, dropped.bound)
            stream.cancel()
        }
    }

    @Test
    fun `allowed origins must be http origins`() {
        assertThrows<ServerEventsException.InvalidArgument> {
            client(options = ClientOptions(allowedOrigins = listOf("127.0.0.2")))
        }
        client(options = ClientOptions(allowedOrigins = listOf("http://127.0.0.2:5000"))).close()
    }

    @Test
    fun `states arrive as a flow`(): Unit = runBlocking {
        client("home").use { client ->
            val open = async { client.stateFlow().first { it is ConnectionState.Open } }
            client.connect()
            val state = withTimeout(10.seconds) { open.await() } as ConnectionState.Open
            assertEquals(client.subscriptionId(), state.subscriptionId)
        }
    }

    @Test
    fun `a failed first connect throws and closes the client`(): Unit = runBlocking {
        val port = ServerSocket(0).use { it.localPort }
        ServerEventsClient("http://127.0.0.1:$port", ClientOptions(reconnectPolicy = ReconnectPolicy.Never)).use { client ->
            assertThrows<ServerEventsException.Network> { runBlocking { client.connect() } }
            val state = assertInstanceOf(ConnectionState.Closed::class.java, client.state())
            assertInstanceOf(CloseReason.ConnectFailed::class.java, state.reason)
        }
    }

    @Test
    fun `service calls take and return JSON`(): Unit = runBlocking {
        client("home").use { client ->
            client.connect()
            val error = assertThrows<ServerEventsException.InvalidArgument> { runBlocking { client.postJson("/x", "{not json") } }
            assertTrue(error.reason.contains("not JSON"), error.reason)
            val missing = assertThrows<ServerEventsException.Http> { runBlocking { client.getJson("/no/such/route") } }
            assertEquals(404.toUShort(), missing.httpStatus())
            val auth = JsonValues.parse(client.authenticate("user", "pass")) as JsonObject
            assertTrue(auth.isNotEmpty(), auth.toString())
            val wrong = assertThrows<ServerEventsException> { runBlocking { client.authenticate("user", "wrong") } }
            assertEquals(401.toUShort(), wrong.httpStatus())
        }
    }

    @Test
    fun `a credentials provider is asked before requests`(): Unit = runBlocking {
        val asked = AtomicInteger()
        val provider = object : CredentialsProvider {
            override suspend fun credentials(refresh: Boolean): Credentials {
                asked.incrementAndGet()
                return Credentials(headers = mapOf("X-Test" to "1"))
            }
        }
        ServerEventsClient(server.baseUrl, ClientOptions(channels = listOf("home")), provider).use { client ->
            client.connect()
            assertTrue(asked.get() >= 1)
        }
    }

    @Test
    fun `a stream url resolver rewrites the url that is opened`(): Unit = runBlocking {
        val toLobby = object : StreamUrlResolver {
            override fun resolve(url: String): String = url.replace("channels=home", "channels=lobby")
        }
        ServerEventsClient(server.baseUrl, ClientOptions(channels = listOf("home")), resolveStreamUrl = toLobby).use { client ->
            assertTrue(client.eventStreamUrl().endsWith("?channels=lobby"))
            assertEquals(listOf("lobby"), client.connect().channels, "the server saw the rewritten URL")
        }
    }
}
