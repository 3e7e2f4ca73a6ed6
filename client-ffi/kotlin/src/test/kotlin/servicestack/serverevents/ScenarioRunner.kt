package servicestack.serverevents

import java.util.Base64
import java.util.concurrent.CyclicBarrier
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.async
import kotlinx.coroutines.Job
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.intOrNull
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.longOrNull
import servicestack.serverevents.ffi.ClientOptions
import servicestack.serverevents.ffi.CloseReason
import servicestack.serverevents.ffi.ConnectionState
import servicestack.serverevents.ffi.MessageStream
import servicestack.serverevents.ffi.ReconnectInfo
import servicestack.serverevents.ffi.ServerEventCommand
import servicestack.serverevents.ffi.ServerEventConnect
import servicestack.serverevents.ffi.ServerEventMessage
import servicestack.serverevents.ffi.ServerEventsClient
import servicestack.serverevents.ffi.ServerEventsException
import servicestack.serverevents.ffi.ServerEventsListener
import servicestack.serverevents.ffi.StateStream

/** A step failed; the message says why. */
class StepFailure(message: String) : AssertionError(message)

/** The fields of events and errors, in the shapes FORMAT.md gives (shared with the Rust leg). */
object Fields {
    fun error(error: ServerEventsException): JsonObject = JsonObject(
        mapOf(
            "message" to JsonPrimitive(error.toString()),
            "status" to JsonValues.of(error.httpStatus()?.toInt()),
            "kind" to JsonPrimitive(error.kind()),
        ),
    )

    fun connect(info: ServerEventConnect) = mapOf(
        "id" to JsonPrimitive(info.id),
        "userId" to JsonPrimitive(info.userId),
        "displayName" to JsonPrimitive(info.displayName),
        "isAuthenticated" to JsonPrimitive(info.isAuthenticated),
        "channels" to JsonValues.of(info.channels),
        "heartbeatUrl" to JsonValues.of(info.heartbeatUrl),
        "unRegisterUrl" to JsonValues.of(info.unregisterUrl),
        "updateSubscriberUrl" to JsonValues.of(info.updateSubscriberUrl),
        "heartbeatIntervalMs" to JsonPrimitive(info.heartbeatIntervalMs.toLong()),
        "idleTimeoutMs" to JsonPrimitive(info.idleTimeoutMs.toLong()),
        "meta" to JsonObject(info.meta.mapValues { JsonPrimitive(it.value) }),
    )

    fun command(command: ServerEventCommand) = mapOf(
        "channel" to JsonValues.of(command.channel),
        "userId" to JsonPrimitive(command.userId),
        "displayName" to JsonPrimitive(command.displayName),
        "isAuthenticated" to JsonPrimitive(command.isAuthenticated),
        "channels" to JsonValues.of(command.channels),
        "meta" to JsonObject(command.meta.mapValues { JsonPrimitive(it.value) }),
    )

    fun message(message: ServerEventMessage) = mapOf(
        "eventId" to JsonPrimitive(message.eventId.toLong()),
        "channel" to JsonValues.of(message.channel),
        "selector" to JsonValues.of(message.selector),
        "op" to JsonValues.of(message.op),
        "target" to JsonValues.of(message.target),
        "cssSelector" to JsonValues.of(message.cssSelector),
        "json" to JsonPrimitive(message.json),
        "body" to JsonValues.body(message.json),
    )

    fun stateName(state: ConnectionState) = when (state) {
        is ConnectionState.Idle -> "idle"
        is ConnectionState.Connecting -> "connecting"
        is ConnectionState.Open -> "open"
        is ConnectionState.Reconnecting -> "reconnecting"
        is ConnectionState.Paused -> "paused"
        is ConnectionState.Closed -> "closed"
    }

    fun state(state: ConnectionState): Map<String, JsonElement> {
        val fields = linkedMapOf<String, JsonElement>("state" to JsonPrimitive(stateName(state)))
        when (state) {
            is ConnectionState.Connecting -> fields["attempt"] = JsonPrimitive(state.attempt.toLong())
            is ConnectionState.Open -> fields["subscriptionId"] = JsonPrimitive(state.subscriptionId)
            is ConnectionState.Reconnecting -> {
                fields["attempt"] = JsonPrimitive(state.attempt.toLong())
                fields["delayMs"] = JsonPrimitive(state.delayMs.toLong())
                fields["error"] = error(state.cause)
            }
            is ConnectionState.Closed -> {
                val (reason, cause) = when (val r = state.reason) {
                    is CloseReason.Stopped -> "stopped" to null
                    is CloseReason.Disposed -> "disposed" to null
                    is CloseReason.Dropped -> "dropped" to null
                    is CloseReason.ConnectFailed -> "connectFailed" to r.error
                    is CloseReason.Unauthorized -> "unauthorized" to r.error
                    is CloseReason.GaveUp -> "gaveUp" to r.error
                }
                fields["reason"] = JsonPrimitive(reason)
                fields["error"] = cause?.let { error(it) } ?: JsonNull
            }
            else -> {}
        }
        return fields
    }

    fun reconnect(info: ReconnectInfo) = mapOf(
        "previousId" to JsonValues.of(info.previousSubscriptionId),
        "id" to JsonPrimitive(info.subscriptionId),
        "attempts" to JsonPrimitive(info.attempts.toLong()),
        "cause" to (info.cause?.let { error(it) } ?: JsonNull),
    )
}

/** Records every lifecycle callback of one client. */
private class Recorder(private val log: EventLog) : ServerEventsListener {
    override fun onConnect(info: ServerEventConnect) = log.add("connect", Fields.connect(info))
    override fun onMessage(message: ServerEventMessage) = log.add("message", Fields.message(message))
    override fun onCommand(command: ServerEventCommand) =
        log.add("command", Fields.command(command) + ("kind" to JsonPrimitive(command.kind.name.lowercase())))
    override fun onJoin(command: ServerEventCommand) = log.add("join", Fields.command(command))
    override fun onLeave(command: ServerEventCommand) = log.add("leave", Fields.command(command))
    override fun onUpdate(command: ServerEventCommand) = log.add("update", Fields.command(command))
    override fun onHeartbeat(command: ServerEventCommand) = log.add(
        "heartbeat",
        mapOf("userId" to JsonPrimitive(command.userId), "displayName" to JsonPrimitive(command.displayName)),
    )
    override fun onReconnect(info: ReconnectInfo) = log.add("reconnect", Fields.reconnect(info))
    override fun onException(error: ServerEventsException) = log.add("exception", Fields.error(error))
}

/**
 * Replays one scenario of conformance-tests/scenarios/scenarios.json (format: FORMAT.md beside
 * it; the Rust interpreter in conformance-tests/src/runner.rs is the reference) through the
 * Kotlin API, against its own server.
 */
class ScenarioRunner(private val scenario: JsonObject, private val server: TestServer) : AutoCloseable {
    private val name = scenario.str("name") ?: "?"
    private val background = CoroutineScope(SupervisorJob() + Dispatchers.IO)

    /** A client of the scenario with its event log. */
    private inner class TestClient(val id: String, var client: ServerEventsClient?) {
        val log = EventLog(id)
        /** Trigger listener ids by (name, index). */
        val listeners = mutableMapOf<Pair<String, Int>, ULong>()
        /** How many listeners each trigger name has had (the next index). */
        val listenerCounts = mutableMapOf<String, Int>()
        /** The client's receiver resolver, also for receivers registered later. */
        lateinit var receivers: TestReceivers
        val streams = mutableListOf<AutoCloseable>()

        val handle: ServerEventsClient get() = client ?: fail("client $id was dropped")

        fun lastConnect(): JsonObject? = log.snapshot().lastOrNull { it.kind == "connect" }?.fields
    }

    private val clients = linkedMapOf<String, TestClient>()
    /** Per (client, kind): the log index the previous `expect` matched. */
    private val cursors = mutableMapOf<Pair<String, String>, Int>()
    /** Running `wait_next` waits by name: the SDK timeout and the outcome (fields or the error). */
    private val waits = mutableMapOf<String, Pair<Long, Deferred<Result<JsonObject>>>>()

    private fun fail(message: String): Nothing = throw StepFailure(message)

    private fun client(name: String?): TestClient =
        clients[name ?: fail("the step names no client")] ?: fail("no client named $name")

    // ----- variables -----

    private fun lookup(name: String, field: String?): String? = when {
        field == null -> if (name == "baseUrl") server.baseUrl else null
        else -> clients[name]?.let { test ->
            val connect = test.lastConnect() ?: fail("\$$name.$field: $name has not connected yet")
            connect[field]?.let { JsonValues.text(it) } ?: fail("\$$name.$field: no such variable in its onConnect")
        }
    }

    private fun isIdent(c: Char) = c.isLetterOrDigit() && c.code < 128 || c == '_'

    /** `$baseUrl` and `$client.var` replaced; other `$` text (selectors like `cmd.x$#id`) kept. */
    private fun text(input: String): String {
        val out = StringBuilder()
        var rest = input
        while (true) {
            val dollar = rest.indexOf('$')
            if (dollar < 0) break
            out.append(rest, 0, dollar)
            val after = rest.substring(dollar + 1)
            val nameLen = after.indexOfFirst { !isIdent(it) }.let { if (it < 0) after.length else it }
            val varName = after.substring(0, nameLen)
            val tail = after.substring(nameLen)
            if (tail.startsWith(".") && varName.isNotEmpty()) {
                val fieldText = tail.substring(1)
                val fieldLen = fieldText.indexOfFirst { !isIdent(it) }.let { if (it < 0) fieldText.length else it }
                val field = fieldText.substring(0, fieldLen)
                if (field.isNotEmpty()) {
                    val value = lookup(varName, field)
                    if (value != null) {
                        out.append(value)
                        rest = fieldText.substring(fieldLen)
                        continue
                    }
                }
            }
            if (varName.isNotEmpty()) {
                val value = lookup(varName, null)
                if (value != null) {
                    out.append(value)
                    rest = tail
                    continue
                }
            }
            out.append('$')
            rest = after
        }
        out.append(rest)
        return out.toString()
    }

    private fun value(element: JsonElement): JsonElement = when (element) {
        is JsonPrimitive -> if (element.isString) JsonPrimitive(text(element.content)) else element
        is JsonArray -> JsonArray(element.map { value(it) })
        is JsonObject -> JsonObject(element.mapValues { value(it.value) })
    }

    private fun matcher(step: JsonObject): JsonObject = step["match"]?.let { value(it) as JsonObject } ?: JsonObject(emptyMap())

    // ----- running -----

    fun run() {
        val steps = scenario["steps"]?.jsonArray ?: fail("scenario $name has no steps")
        val started = System.nanoTime()
        for ((index, step) in steps.withIndex()) {
            try {
                runBlocking { step(step.jsonObject) }
            } catch (e: Throwable) {
                val reason = if (e is StepFailure) e.message else "${e::class.simpleName}: ${e.message ?: e}"
                throw AssertionError(
                    "scenario $name failed at step $index of ${steps.size} after ${(System.nanoTime() - started) / 1_000_000} ms: $step\n" +
                        "  $reason\n  (${scenario.str("summary")})\n" + clients.values.joinToString("") { it.log.describe() },
                    e,
                )
            }
        }
    }

    private fun timeout(step: JsonObject): Long = step["timeoutMs"]?.jsonPrimitive?.longOrNull ?: 5000L

    private suspend fun step(step: JsonObject) {
        when (val op = step.str("op")) {
            "client" -> createClient(step)
            "connect" -> {
                val test = client(step.str("client"))
                val ms = timeout(step)
                val outcome: Result<Any> = try {
                    Result.success(withTimeout(ms) { test.handle.connect() })
                } catch (e: TimeoutCancellationException) {
                    fail("${test.id}: connect() did not finish within $ms ms")
                } catch (e: ServerEventsException) {
                    Result.failure(e)
                }
                checkOutcome(test.id, outcome, step["expectError"]?.jsonObject)
            }
            "start" -> client(step.str("client")).handle.start()
            "stop" -> {
                val test = client(step.str("client"))
                withTimeoutOrNull(10_000) { test.handle.stop() } ?: fail("${test.id}: stop() did not finish within 10 s")
            }
            "restart" -> client(step.str("client")).handle.restart()
            "pause" -> client(step.str("client")).handle.pause()
            "resume" -> client(step.str("client")).handle.resume()
            "drop" -> {
                val test = client(step.str("client"))
                val handle = test.client ?: fail("${test.id} was already dropped")
                test.client = null
                handle.close()
            }
            "set_channels" -> client(step.str("client")).handle.setChannels(strings(step, "channels"))
            "subscribe" -> client(step.str("client")).handle.subscribeToChannels(strings(step, "channels"))
            "unsubscribe" -> client(step.str("client")).handle.unsubscribeFromChannels(strings(step, "channels"))
            "authenticate" -> {
                val test = client(step.str("client"))
                val outcome: Result<Any> = try {
                    Result.success(test.handle.authenticate(text(step.str("user") ?: ""), text(step.str("password") ?: "")))
                } catch (e: ServerEventsException) {
                    Result.failure(e)
                }
                checkOutcome(test.id, outcome, step["expectError"]?.jsonObject)
            }
            "post_chat" -> {
                val from = step.str("from") ?: fail("post_chat needs from")
                val channel = text(step.str("channel") ?: "*")
                val body = linkedMapOf<String, JsonElement>(
                    "from" to JsonPrimitive(text("\$$from.id")),
                    "channel" to JsonPrimitive(channel),
                    "message" to JsonPrimitive(text(step.str("message") ?: "")),
                    "selector" to JsonPrimitive(text(step.str("selector") ?: "cmd.chat")),
                )
                step.str("toUserId")?.let { body["toUserId"] = JsonPrimitive(text(it)) }
                postService(from, "/channels/${encodeSegment(channel)}/chat", JsonObject(body))
            }
            "post_raw" -> {
                val from = step.str("from") ?: fail("post_raw needs from")
                val channel = text(step.str("channel") ?: "*")
                val body = linkedMapOf<String, JsonElement>(
                    "from" to JsonPrimitive(text("\$$from.id")),
                    "channel" to JsonPrimitive(channel),
                    "selector" to JsonPrimitive(text(step.str("selector") ?: fail("post_raw needs a selector"))),
                )
                step.str("message")?.let { body["message"] = JsonPrimitive(text(it)) }
                postService(from, "/channels/${encodeSegment(channel)}/raw", JsonObject(body))
            }
            "post_object" -> {
                val channel = text(step.str("channel") ?: "*")
                val body = linkedMapOf<String, JsonElement>("channel" to JsonPrimitive(channel))
                step.str("selector")?.let { body["selector"] = JsonPrimitive(text(it)) }
                step["customType"]?.let { body["customType"] = value(it) }
                step["setterType"]?.let { body["setterType"] = value(it) }
                postService(null, "/channels/${encodeSegment(channel)}/object", JsonObject(body))
            }
            "reset_server" -> postOk("${server.baseUrl}/reset-serverevents", "{}")
            "restart_server" -> server.restart()
            "http" -> http(step)
            "fault" -> postOk("${server.baseUrl}/test/faults", value(step["set"] ?: fail("fault needs set")).toString())
            "raw_frame" -> {
                val test = client(step.str("client"))
                val bytes = frameBytes(step)
                val url = "${server.baseUrl}/test/raw?id=${text("\$${test.id}.id")}"
                val reply = Http.send("POST", url, bytes, "text/plain")
                if (reply.status !in 200..299) fail("POST $url answered ${reply.status}: ${reply.body}")
            }
            "crash_node" -> {
                val test = client(step.str("client"))
                val url = "${server.baseUrl}/test/crash-node?id=${text("\$${test.id}.id")}"
                val reply = Http.send("POST", url)
                if (reply.status !in 200..299) fail("POST $url answered ${reply.status}: ${reply.body}")
            }
            "remove_listener" -> {
                val test = client(step.str("client"))
                val listenerName = step.str("name") ?: fail("remove_listener needs a name")
                val index = step["index"]?.jsonPrimitive?.intOrNull ?: fail("remove_listener needs an index")
                val id = test.listeners[listenerName to index] ?: fail("${test.id} has no listener $listenerName[$index]")
                if (!test.handle.remove(id)) fail("${test.id}: listener $listenerName[$index] was not registered")
            }
            "expect" -> expect(step)
            "expect_count" -> expectCount(step, timeout(step))
            "assert_count" -> expectCount(step, null)
            "expect_subscribers" -> expectSubscribers(step)
            "assert_client" -> assertClient(step)
            "concurrent" -> concurrent(step)
            "service_get" -> {
                val test = client(step.str("client"))
                val path = text(step.str("path") ?: fail("service_get needs a path"))
                val outcome: Result<Any> = try {
                    Result.success(withTimeout(5000) { test.handle.getJson(path) })
                } catch (e: TimeoutCancellationException) {
                    fail("${test.id}: GET $path did not finish within 5 s")
                } catch (e: ServerEventsException) {
                    Result.failure(e)
                }
                checkOutcome(test.id, outcome, step["expectError"]?.jsonObject)
            }
            "wait_next" -> waitNext(step)
            "wait_result" -> waitResult(step)
            "register_handler" -> {
                val test = client(step.str("client"))
                val handlerName = step.str("name") ?: fail("register_handler needs a name")
                test.handle.registerHandler(handlerName, recordingHandler(test.log, handlerName, throws = false))
            }
            "remove_handler" -> {
                val test = client(step.str("client"))
                val handlerName = step.str("name") ?: fail("remove_handler needs a name")
                if (!test.handle.removeHandler(handlerName)) fail("${test.id} had no handler $handlerName to remove")
            }
            "register_receiver" -> {
                val test = client(step.str("client"))
                test.receivers.register(
                    test.handle,
                    step.str("name") ?: fail("register_receiver needs a name"),
                    step.str("class") ?: fail("register_receiver needs a class"),
                )
            }
            "unregister_receiver" -> {
                val test = client(step.str("client"))
                val receiverOp = step.str("name") ?: fail("unregister_receiver needs a name")
                if (!test.handle.unregisterReceiver(receiverOp)) fail("${test.id} had no receiver for $receiverOp to remove")
            }
            "add_listener" -> {
                val test = client(step.str("client"))
                addListener(test, step.str("name") ?: fail("add_listener needs a name"))
            }
            "remove_all_registrations" -> client(step.str("client")).handle.removeAllRegistrations()
            "assert_gaps" -> assertGaps(step)
            else -> fail("unknown op '$op'")
        }
    }

    private fun strings(step: JsonObject, key: String): List<String> =
        (step[key] as? JsonArray ?: fail("'$key' must be an array")).map { text(it.jsonPrimitive.content) }

    private fun postOk(url: String, json: String) {
        val reply = Http.postJson(url, json)
        if (reply.status !in 200..299) fail("POST $url answered ${reply.status}: ${reply.body}")
    }

    /** POSTs a test service DTO through the `from` client's service client (sharing its cookies), or plainly. */
    private suspend fun postService(from: String?, path: String, body: JsonObject) {
        val handle = from?.let { clients[it]?.client }
        if (handle != null) {
            try {
                handle.postJson(path, body.toString())
            } catch (e: ServerEventsException) {
                fail("POST $path $body failed: $e")
            }
        } else {
            postOk(server.baseUrl + path, body.toString())
        }
    }

    private fun encodeSegment(segment: String): String = buildString {
        for (byte in segment.toByteArray(Charsets.UTF_8)) {
            val c = byte.toInt() and 0xff
            if (c < 0x80 && (c.toChar().isLetterOrDigit() || c.toChar() in "-._~")) append(c.toChar())
            else append("%%%02X".format(c))
        }
    }

    private fun frameBytes(step: JsonObject): ByteArray {
        fun one(part: JsonObject): ByteArray {
            val t = part.str("text")
            val b = part.str("base64")
            return when {
                t != null && b == null -> text(t).toByteArray(Charsets.UTF_8)
                b != null && t == null -> Base64.getMimeDecoder().decode(b.trimEnd('='))
                else -> fail("a frame part needs exactly one of text and base64")
            }
        }
        val parts = step["parts"]?.jsonArray ?: return one(step)
        val out = java.io.ByteArrayOutputStream()
        for (part in parts) {
            val piece = one(part.jsonObject)
            repeat(part.jsonObject["repeat"]?.jsonPrimitive?.intOrNull ?: 1) { out.write(piece) }
        }
        return out.toByteArray()
    }

    private fun http(step: JsonObject) {
        val method = step.str("method") ?: fail("http needs a method")
        val url = text(step.str("url") ?: fail("http needs a url"))
        val body = step["body"]?.let { value(it).toString().toByteArray() }
        val reply = Http.send(method, url, body)
        val expected = step["expectStatus"] as? JsonPrimitive
        val ok = when {
            expected == null -> reply.status in 200..299
            expected.isString && expected.content == "2xx" -> reply.status in 200..299
            expected.isString && expected.content == "error" -> reply.status !in 200..299
            expected.intOrNull != null -> reply.status == expected.intOrNull
            else -> fail("expectStatus $expected is not a status, \"2xx\" or \"error\"")
        }
        if (!ok) fail("$method $url answered ${reply.status} (expected ${expected ?: "2xx"}): ${reply.body}")
    }

    // ----- clients -----

    private fun createClient(step: JsonObject) {
        val id = step.str("id") ?: fail("client step without id")
        if (id in clients) fail("client $id already exists")
        if (step["withCredentials"] != null) fail("withCredentials is a browser-only option")
        val options = ClientOptions(
            channels = if (step["channels"] != null) strings(step, "channels") else emptyList(),
            heartbeatIntervalMs = step["heartbeatMs"]?.jsonPrimitive?.longOrNull?.toULong(),
            idleTimeoutMs = step["idleTimeoutMs"]?.jsonPrimitive?.longOrNull?.toULong(),
            connectTimeoutMs = step["connectTimeoutMs"]?.jsonPrimitive?.longOrNull?.toULong(),
            maxEventSize = step["maxEventSizeBytes"]?.jsonPrimitive?.longOrNull?.toULong(),
        )
        val baseUrl = step.str("baseUrl")?.let { text(it) } ?: server.baseUrl
        val client = ServerEventsClient(baseUrl, options)
        val test = TestClient(id, client)
        clients[id] = test
        val log = test.log
        client.addEventListener(Recorder(log))
        step["handlers"]?.jsonArray?.forEach { handler ->
            val handlerName = handler.jsonPrimitive.content
            client.registerHandler(handlerName, recordingHandler(log, handlerName, throws = false))
        }
        step["throwingHandlers"]?.jsonArray?.forEach { handler ->
            val handlerName = handler.jsonPrimitive.content
            client.registerHandler(handlerName, recordingHandler(log, handlerName, throws = true))
        }
        val receivers = TestReceivers(step.str("resolver") == "singleton") { className, member, value, instance, calls, message ->
            log.add(
                "receiver",
                linkedMapOf(
                    "receiver" to JsonPrimitive(className),
                    "member" to JsonPrimitive(member),
                    "value" to value,
                    "instance" to JsonPrimitive(instance),
                    "calls" to JsonPrimitive(calls),
                    "selector" to JsonValues.of(message.selector),
                    "op" to JsonValues.of(message.op),
                    "target" to JsonValues.of(message.target),
                    "cssSelector" to JsonValues.of(message.cssSelector),
                ),
            )
        }
        test.receivers = receivers
        step["receivers"]?.jsonObject?.entries?.sortedBy { it.key }?.forEach { (receiverOp, className) ->
            receivers.register(client, receiverOp, className.jsonPrimitive.content)
        }
        step["listeners"]?.jsonObject?.forEach { (triggerName, count) ->
            repeat(count.jsonPrimitive.intOrNull ?: fail("listeners.$triggerName is not a number")) { addListener(test, triggerName) }
        }
        // Opened now, so nothing (the initial `idle` state, the first message) is missed.
        val states: StateStream = client.stateChanges()
        val stateReader = background.launch {
            while (true) log.add("state", Fields.state(states.next() ?: break))
        }
        test.streams += endOf(stateReader, cancel = states::cancel, destroy = states::close)
        if (step["consumeStream"]?.jsonPrimitive?.booleanOrNull == true) {
            val messages: MessageStream = client.messages()
            val messageReader = background.launch {
                while (true) log.add("streamed", Fields.message(messages.next() ?: break))
            }
            test.streams += endOf(messageReader, cancel = messages::cancel, destroy = messages::close)
        }
    }

    /** A `cmd` handler that records a `handler` event (then throws when [throws]). */
    private fun recordingHandler(log: EventLog, handlerName: String, throws: Boolean): (ServerEventMessage) -> Unit = { message ->
        log.add("handler", mapOf("name" to JsonPrimitive(handlerName), "body" to JsonValues.body(message.json)))
        if (throws) throw IllegalStateException("handler $handlerName fails on purpose")
    }

    /** Adds a recording trigger listener with the next index for [triggerName]. */
    private fun addListener(test: TestClient, triggerName: String) {
        val index = test.listenerCounts[triggerName] ?: 0
        test.listenerCounts[triggerName] = index + 1
        val log = test.log
        test.listeners[triggerName to index] = test.handle.addListener(triggerName) { message ->
            log.add(
                "listener",
                mapOf("name" to JsonPrimitive(triggerName), "index" to JsonPrimitive(index), "body" to JsonValues.body(message.json)),
            )
        }
    }

    /** Starts the SDK's wait now (registered before the next step) and keeps its outcome. */
    private fun waitNext(step: JsonObject) {
        val test = client(step.str("client"))
        val waitName = step.str("wait") ?: fail("wait_next needs a wait name")
        val ms = step["timeoutMs"]?.jsonPrimitive?.longOrNull ?: fail("wait_next needs timeoutMs")
        if (waitName in waits) fail("the wait $waitName was started twice")
        val handle = test.handle
        val sdkTimeout = ms.toULong()
        val outcome: Deferred<Result<JsonObject>> = when (val kind = step.str("kind")) {
            "message" -> background.async(start = CoroutineStart.UNDISPATCHED) {
                runCatching { JsonObject(Fields.message(handle.waitForNextMessage(sdkTimeout))) }
            }
            "command" -> background.async(start = CoroutineStart.UNDISPATCHED) {
                runCatching {
                    val command = handle.waitForNextCommand(sdkTimeout)
                    JsonObject(Fields.command(command) + ("kind" to JsonPrimitive(command.kind.name.lowercase())))
                }
            }
            "heartbeat" -> background.async(start = CoroutineStart.UNDISPATCHED) {
                runCatching {
                    val heartbeat = handle.waitForNextHeartbeat(sdkTimeout)
                    JsonObject(mapOf("userId" to JsonPrimitive(heartbeat.userId), "displayName" to JsonPrimitive(heartbeat.displayName)))
                }
            }
            else -> fail("wait_next cannot wait for $kind")
        }
        waits[waitName] = ms to outcome
    }

    private suspend fun waitResult(step: JsonObject) {
        val waitName = step.str("wait") ?: fail("wait_result needs a wait name")
        val (ms, outcome) = waits.remove(waitName) ?: fail("no running wait named $waitName")
        // The SDK's own timeout ends the wait; the extra time only guards against a hang.
        val result = withTimeoutOrNull(ms + 5000) { outcome.await() }
            ?: fail("the wait $waitName did not end within its $ms ms timeout (+5 s)")
        val fields = result.getOrNull()
        if (fields == null || step["expectError"] != null) {
            checkOutcome(waitName, result, step["expectError"]?.jsonObject)
            return
        }
        val matcher = matcher(step)
        if (!JsonValues.matches(fields, matcher)) fail("the wait $waitName ended with $fields, which does not match $matcher")
    }

    private fun assertGaps(step: JsonObject) {
        val test = client(step.str("client"))
        val kind = step.str("kind") ?: fail("assert_gaps needs a kind")
        val minMs = step["minMs"]?.jsonPrimitive?.longOrNull ?: fail("assert_gaps needs minMs")
        val maxMs = step["maxMs"]?.jsonPrimitive?.longOrNull ?: fail("assert_gaps needs maxMs")
        val matcher = matcher(step)
        val times = test.log.snapshot().filter { it.kind == kind && JsonValues.matches(it.fields, matcher) }.map { it.atMs }
        if (times.size < 2) fail("${test.id}: ${times.size} $kind events match $matcher, at least 2 are needed to measure a gap")
        val gaps = times.zipWithNext { a, b -> b - a }
        if (!gaps.all { it in minMs..maxMs }) fail("${test.id}: the gaps between $kind events are $gaps ms, expected each within $minMs..$maxMs ms")
    }

    /**
     * Closes a stream read by [reader]: cancelling ends its pending `next()` with null, and only
     * once the reader has seen that is the object destroyed (a `next()` on a destroyed object
     * throws, which is the binding's use-after-close error, not something to provoke here).
     */
    private fun endOf(reader: Job, cancel: () -> Unit, destroy: () -> Unit) = AutoCloseable {
        cancel()
        runBlocking { withTimeoutOrNull(5000) { reader.join() } }
        destroy()
    }

    /** Checks a call's outcome against `expectError` (a matcher over `{message, status, kind}`). */
    private fun checkOutcome(client: String, outcome: Result<Any>, expected: JsonObject?) {
        val error = outcome.exceptionOrNull()
        when {
            error == null && expected == null -> {}
            error == null -> fail("$client: succeeded, but an error matching $expected was expected")
            error !is ServerEventsException -> throw error
            expected == null -> fail("$client: failed: $error")
            else -> {
                val fields = Fields.error(error)
                if (!JsonValues.matches(fields, value(expected) as JsonObject)) {
                    fail("$client: the error $fields does not match $expected")
                }
            }
        }
    }

    // ----- expectations -----

    private fun expect(step: JsonObject) {
        val test = client(step.str("client"))
        val kind = step.str("kind") ?: fail("expect needs a kind")
        val matcher = matcher(step)
        val key = test.id to kind
        val after = cursors[key] ?: -1
        val ms = timeout(step)
        val found = test.log.await(ms) { events ->
            (after + 1 until events.size).firstOrNull { i -> events[i].kind == kind && JsonValues.matches(events[i].fields, matcher) }
        } ?: fail(
            "${test.id}: no $kind event matching $matcher arrived ${if (after >= 0) "after event #$after " else ""}within $ms ms",
        )
        cursors[key] = found
    }

    private fun expectCount(step: JsonObject, timeoutMs: Long?) {
        val test = client(step.str("client"))
        val kind = step.str("kind") ?: fail("${step.str("op")} needs a kind")
        val count = step["count"]?.jsonPrimitive?.intOrNull ?: fail("${step.str("op")} needs a count")
        val matcher = matcher(step)
        fun counting(events: List<Event>) = events.count { it.kind == kind && JsonValues.matches(it.fields, matcher) }
        if (timeoutMs != null) test.log.await(timeoutMs) { events -> counting(events).takeIf { it >= count } }
        val actual = counting(test.log.snapshot())
        if (actual != count) {
            fail(
                "${test.id}: $actual $kind events match $matcher, expected exactly $count" +
                    (timeoutMs?.let { " (waited up to $it ms)" } ?: ""),
            )
        }
    }

    private suspend fun expectSubscribers(step: JsonObject) {
        val test = client(step.str("client"))
        val count = step["count"]?.jsonPrimitive?.intOrNull ?: fail("expect_subscribers needs a count")
        val channels = if (step["channels"] != null) strings(step, "channels") else null
        val deadline = System.nanoTime() + timeout(step) * 1_000_000
        while (true) {
            val actual = if (channels != null) {
                // Through the client, with its credentials: on a server limited to signed-in
                // users the list is not public.
                test.handle.getSubscribers(channels).size
            } else {
                test.handle.getChannelSubscribers().size
            }
            if (actual == count) return
            if (System.nanoTime() >= deadline) {
                fail("${test.id}: the server lists $actual subscribers of ${channels ?: "${test.id}'s channels"}, expected $count (waited ${timeout(step)} ms)")
            }
            // The server's state changes asynchronously (unregisters, expiries): poll it.
            kotlinx.coroutines.delay(20)
        }
    }

    private fun assertClient(step: JsonObject) {
        val test = client(step.str("client"))
        if (step["withCredentials"] != null) fail("withCredentials is a browser-only check")
        val handle = test.handle
        val problems = mutableListOf<String>()
        if (step["channels"] != null) {
            val expected = strings(step, "channels")
            val actual = handle.channels()
            if (actual != expected) problems += "channels are $actual, expected $expected"
        }
        step.str("streamUrlEndsWith")?.let {
            val suffix = text(it)
            val url = handle.eventStreamUrl()
            if (!url.endsWith(suffix)) problems += "the stream URL $url does not end with $suffix"
        }
        val current = handle.state()
        step["connected"]?.jsonPrimitive?.booleanOrNull?.let { expected ->
            val actual = current is ConnectionState.Open
            if (actual != expected) problems += "connected is $actual (state $current), expected $expected"
        }
        step["timesStarted"]?.jsonPrimitive?.longOrNull?.let { expected ->
            val actual = handle.timesStarted().toLong()
            if (actual != expected) problems += "times started is $actual, expected $expected"
        }
        step.str("state")?.let { expected ->
            if (Fields.stateName(current) != expected) problems += "state is $current, expected $expected"
        }
        if (problems.isNotEmpty()) fail("${test.id}: ${problems.joinToString("; ")}")
    }

    /** Runs a lifecycle step from `times` threads at once. */
    private fun concurrent(step: JsonObject) {
        val times = step["times"]?.jsonPrimitive?.intOrNull ?: fail("concurrent needs times")
        val inner = step["step"]?.jsonObject ?: fail("concurrent needs a step")
        val handle = client(inner.str("client")).handle
        val action: () -> Unit = when (val op = inner.str("op")) {
            "start" -> ({ handle.start() })
            "restart" -> ({ handle.restart() })
            "resume" -> ({ handle.resume() })
            "pause" -> ({ handle.pause() })
            "stop" -> ({ runBlocking { withTimeout(10_000) { handle.stop() } } })
            else -> fail("$op cannot run concurrently")
        }
        val barrier = CyclicBarrier(times)
        val failures = java.util.concurrent.ConcurrentLinkedQueue<Throwable>()
        val threads = List(times) {
            Thread {
                try {
                    barrier.await()
                    action()
                } catch (e: Throwable) {
                    failures += e
                }
            }.apply { start() }
        }
        threads.forEach { it.join() }
        failures.firstOrNull()?.let { fail("a concurrent ${inner.str("op")} failed: $it") }
    }

    /** Stops and frees every client (waiting for the unregisters), then the background readers. */
    override fun close() {
        runBlocking {
            withTimeoutOrNull(5000) {
                for (test in clients.values) test.client?.stop()
            }
        }
        for (test in clients.values) {
            test.streams.forEach { it.close() }
            test.client?.close()
        }
        background.cancel()
    }
}

/** A string field, or `null`. */
fun JsonObject.str(key: String): String? = (this[key] as? JsonPrimitive)?.takeUnless { it == JsonNull }?.contentOrNull
