package servicestack.serverevents

import java.util.concurrent.TimeUnit
import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.doubleOrNull
import kotlinx.serialization.json.longOrNull

/** One recorded event: its kind (`connect`, `message`, …) and its fields (FORMAT.md, "Events"). */
data class Event(val kind: String, val fields: JsonObject, val atMs: Long)

/** One client's events, in arrival order. Callbacks append from the client's threads; steps wait. */
class EventLog(private val name: String) {
    private val started = System.nanoTime()
    private val lock = ReentrantLock()
    private val changed = lock.newCondition()
    private val events = mutableListOf<Event>()

    fun add(kind: String, fields: Map<String, JsonElement>) {
        val event = Event(kind, JsonObject(fields), (System.nanoTime() - started) / 1_000_000)
        lock.withLock {
            events += event
            changed.signalAll()
        }
    }

    fun snapshot(): List<Event> = lock.withLock { events.toList() }

    /**
     * Calls [check] on the log each time it changes until it returns a value or [timeoutMs]
     * passes; then returns [check]'s last answer (`null` when it never gave one).
     */
    fun <T : Any> await(timeoutMs: Long, check: (List<Event>) -> T?): T? {
        val deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs)
        lock.withLock {
            while (true) {
                check(events)?.let { return it }
                val left = deadline - System.nanoTime()
                if (left <= 0) return null
                changed.awaitNanos(left)
            }
        }
    }

    /** The last [max] events as text, for failure messages. */
    fun describe(max: Int = 60): String {
        val all = snapshot()
        val shown = all.takeLast(max)
        val skipped = all.size - shown.size
        return buildString {
            append("  events of $name (${all.size}):\n")
            if (skipped > 0) append("    … $skipped earlier events\n")
            shown.forEachIndexed { i, e ->
                val fields = e.fields.toString().let { if (it.length > 400) it.take(400) + "…" else it }
                append("    #${i + skipped} +${e.atMs}ms ${e.kind} $fields\n")
            }
        }
    }
}

/** JSON helpers shared by the interpreter and the test receivers (the rules of conformance-tests' matching.rs). */
object JsonValues {
    private val json = Json

    fun parse(text: String): JsonElement = json.parseToJsonElement(text)

    /** A message body: parsed JSON, or `null` when it is empty or not JSON. */
    fun body(text: String): JsonElement =
        if (text.isBlank()) JsonNull else try { parse(text) } catch (e: Exception) { JsonNull }

    fun of(value: String?): JsonElement = if (value == null) JsonNull else JsonPrimitive(value)
    fun of(value: Number?): JsonElement = if (value == null) JsonNull else JsonPrimitive(value)
    fun of(values: List<String>): JsonElement = JsonArray(values.map { JsonPrimitive(it) })

    /** `fields.body.message` for the path `body.message`; `null` when a part is missing. */
    fun at(element: JsonElement, path: String): JsonElement? {
        var current: JsonElement = element
        for (part in path.split('.')) {
            current = when (current) {
                is JsonObject -> current[part] ?: return null
                is JsonArray -> part.toIntOrNull()?.let { current.getOrNull(it) } ?: return null
                else -> return null
            }
        }
        return current
    }

    private fun isNumber(e: JsonElement) = e is JsonPrimitive && !e.isString && e != JsonNull && e.booleanOrNull == null

    private fun number(e: JsonElement?): Double? = e?.takeIf { isNumber(it) }?.let { (it as JsonPrimitive).doubleOrNull }

    /** JSON equality, numbers compared by value. */
    fun equal(a: JsonElement, b: JsonElement): Boolean = when {
        isNumber(a) && isNumber(b) -> {
            val x = (a as JsonPrimitive).longOrNull
            val y = (b as JsonPrimitive).longOrNull
            if (x != null && y != null) x == y else a.doubleOrNull == b.doubleOrNull
        }
        a is JsonArray && b is JsonArray -> a.size == b.size && a.indices.all { equal(a[it], b[it]) }
        a is JsonObject && b is JsonObject -> a.size == b.size && a.all { (k, v) -> b[k]?.let { equal(v, it) } == true }
        a is JsonPrimitive && b is JsonPrimitive -> a.isString == b.isString && a.content == b.content
        else -> a == b
    }

    /** Whether [fields] satisfy every entry of [matcher] (variables already substituted). */
    fun matches(fields: JsonElement, matcher: JsonObject): Boolean =
        matcher.all { (path, expected) -> valueMatches(at(fields, path), expected) }

    private fun valueMatches(actual: JsonElement?, expected: JsonElement): Boolean {
        val isOperators = expected is JsonObject && expected.isNotEmpty() && expected.keys.all { it.startsWith("$") }
        if (!isOperators) return actual != null && equal(actual, expected)
        for ((op, operand) in expected as JsonObject) {
            val text = (actual as? JsonPrimitive)?.takeIf { it.isString }?.content
            val wanted = (operand as? JsonPrimitive)?.takeIf { it.isString }?.content
            val holds = when (op) {
                "\$startsWith" -> text != null && wanted != null && text.startsWith(wanted)
                "\$endsWith" -> text != null && wanted != null && text.endsWith(wanted)
                "\$contains" -> when {
                    text != null -> wanted != null && text.contains(wanted)
                    actual is JsonArray -> actual.any { equal(it, operand) }
                    else -> false
                }
                "\$gt" -> compare(actual, operand) { a, b -> a > b }
                "\$gte" -> compare(actual, operand) { a, b -> a >= b }
                "\$lt" -> compare(actual, operand) { a, b -> a < b }
                "\$exists" -> {
                    val flag = (operand as? JsonPrimitive)?.booleanOrNull
                        ?: throw IllegalArgumentException("\$exists takes a boolean")
                    (actual != null && actual != JsonNull) == flag
                }
                "\$ne" -> !(actual != null && equal(actual, operand))
                else -> throw IllegalArgumentException("unknown match operator $op")
            }
            if (!holds) return false
        }
        return true
    }

    private fun compare(actual: JsonElement?, operand: JsonElement, test: (Double, Double) -> Boolean): Boolean {
        val a = number(actual)
        val b = number(operand)
        return a != null && b != null && test(a, b)
    }

    /** A variable's text: strings as they are, numbers and booleans as JSON, arrays joined by `,`. */
    fun text(value: JsonElement): String? = when (value) {
        is JsonPrimitive -> if (value == JsonNull) null else value.contentOrNull
        is JsonArray -> value.joinToString(",") { (it as? JsonPrimitive)?.contentOrNull ?: "" }
        else -> null
    }
}
