package servicestack.serverevents

import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.longOrNull
import servicestack.serverevents.ffi.ReceiverResolver
import servicestack.serverevents.ffi.ServerEventMessage
import servicestack.serverevents.ffi.ServerEventsClient
import servicestack.serverevents.ffi.ServerEventsException

/**
 * The four test receivers of FORMAT.md ("Test receivers"), registered through the idiomatic
 * receiver DSL. Each member records a `receiver` event with the class, the member, the typed
 * argument as JSON and the instance number. Arguments are read like the Rust leg reads them
 * (property names case-insensitively, `-` and `_` ignored; a wrong shape is a `Deserialize`
 * error reported to onException).
 */
class TestReceivers(
    private val singleton: Boolean,
    private val record: (className: String, member: String, value: JsonElement, instance: Int, calls: Int, message: ServerEventMessage) -> Unit,
) {
    /**
     * One receiver object, numbered per class from 1. [calls] lives in the object, so it counts
     * only the messages the SDK delivered to this very instance: a resolver that hands out fresh
     * instances keeps it at 1.
     */
    class Instance(val className: String, val number: Int) {
        var calls = 0
    }

    private val counters = mutableMapOf<String, Int>()

    /** One core singleton resolver per class, shared by every op the class is registered under. */
    private val singletons = mutableMapOf<String, ReceiverResolver>()

    /** The container's dependency, shared by every `TestContainerReceiver` instance. */
    private inner class Dependency {
        fun record(value: JsonElement, instance: Instance, message: ServerEventMessage) {
            val calls = synchronized(instance) { ++instance.calls }
            record("TestContainerReceiver", "Dependency.Record", value, instance.number, calls, message)
        }
    }

    private val dependency = Dependency()

    private fun newInstance(className: String): Instance = synchronized(counters) {
        val number = (counters[className] ?: 0) + 1
        counters[className] = number
        Instance(className, number)
    }

    /** The client's resolver for [className]: the SDK's singleton, or its default (a new instance per message). */
    private fun resolver(className: String): ReceiverResolver? =
        if (singleton) synchronized(singletons) { singletons.getOrPut(className) { ReceiverResolver.singleton() } } else null

    private fun Instance.rec(member: String, value: JsonElement, message: ServerEventMessage) {
        val calls = synchronized(this) { ++calls }
        record(className, member, value, number, calls, message)
    }

    /** Registers [className] as the receiver of [op] on [client]. */
    fun register(client: ServerEventsClient, op: String, className: String) {
        val create = { newInstance(className) }
        val policy = resolver(className)
        val noSuchMethod: Instance.(String, ServerEventMessage) -> Unit = { target, message ->
            rec("noSuchMethod:$target", JsonValues.body(message.json), message)
        }
        when (className) {
            "TestNamedReceiver" -> client.registerNamedReceiver(op, create, policy) {
                member("FooMethod", "CustomType") { rec("FooMethod", idName("CustomType", it), it) }
                member("BarMethod", "CustomType") { rec("BarMethod", idName("CustomType", it), it) }
                member("QuxSetter", "CustomType") { rec("QuxSetter", idName("CustomType", it), it) }
                noSuchMethod(noSuchMethod)
            }
            "TestGlobalReceiver" -> client.registerNamedReceiver(op, create, policy) {
                member("CustomType", "CustomType") { rec("CustomType", idName("CustomType", it), it) }
                member("SetterType", "SetterType") { rec("SetterType", idName("SetterType", it), it) }
                noSuchMethod(noSuchMethod)
            }
            "TestJavaScriptReceiver" -> client.registerNamedReceiver(op, create, policy) {
                member("Chat", "ChatMessage") { rec("Chat", chatMessage(it), it) }
                member("Announce") { rec("Announce", string(it), it) }
                member("Toggle") { noArgument(it); rec("Toggle", JsonNull, it) }
                member("BackgroundImage") { rec("BackgroundImage", string(it), it) }
                noSuchMethod(noSuchMethod)
            }
            "TestContainerReceiver" -> client.registerNamedReceiver(op, create, policy) {
                member("Custom", "CustomType") { dependency.record(idName("CustomType", it), this, it) }
                member("Setter", "SetterType") { dependency.record(idName("SetterType", it), this, it) }
            }
            else -> throw IllegalArgumentException("unknown test receiver class '$className'")
        }
    }

    private companion object {
        fun invalid(type: String, detail: String): Nothing =
            throw ServerEventsException.Deserialize(type, detail)

        fun key(name: String) = name.filter { it != '-' && it != '_' }.lowercase()

        fun field(body: JsonObject, name: String): JsonElement? =
            body.entries.firstOrNull { key(it.key) == key(name) }?.value?.takeUnless { it == JsonNull }

        fun objectBody(type: String, message: ServerEventMessage): JsonObject =
            JsonValues.body(message.json) as? JsonObject ?: invalid(type, "expected a JSON object, got '${message.json}'")

        fun integer(type: String, body: JsonObject, name: String): Long {
            val value = field(body, name) as? JsonPrimitive
            return value?.takeIf { !it.isString }?.longOrNull ?: invalid(type, "'$name' must be an integer")
        }

        fun optionalString(type: String, body: JsonObject, name: String): String? {
            val value = field(body, name) ?: return null
            return (value as? JsonPrimitive)?.takeIf { it.isString }?.content ?: invalid(type, "'$name' must be a string")
        }

        /** `CustomType`/`SetterType`: `{id, name?}`. */
        fun idName(type: String, message: ServerEventMessage): JsonElement {
            val body = objectBody(type, message)
            val fields = linkedMapOf<String, JsonElement>("id" to JsonPrimitive(integer(type, body, "id")))
            optionalString(type, body, "name")?.let { fields["name"] = JsonPrimitive(it) }
            return JsonObject(fields)
        }

        /** `ChatMessage`: `{id, fromUserId, fromName, message?, private, channel?}`. */
        fun chatMessage(message: ServerEventMessage): JsonElement {
            val type = "ChatMessage"
            val body = objectBody(type, message)
            val fields = linkedMapOf<String, JsonElement>(
                "id" to JsonPrimitive(integer(type, body, "id")),
                "fromUserId" to JsonPrimitive(optionalString(type, body, "fromUserId") ?: invalid(type, "missing fromUserId")),
                "fromName" to JsonPrimitive(optionalString(type, body, "fromName") ?: invalid(type, "missing fromName")),
            )
            optionalString(type, body, "message")?.let { fields["message"] = JsonPrimitive(it) }
            val private = field(body, "private")?.let {
                (it as? JsonPrimitive)?.takeIf { p -> !p.isString }?.booleanOrNull ?: invalid(type, "'private' must be a boolean")
            }
            fields["private"] = JsonPrimitive(private ?: false)
            optionalString(type, body, "channel")?.let { fields["channel"] = JsonPrimitive(it) }
            return JsonObject(fields)
        }

        /** A `string` argument: the body must be a JSON string. */
        fun string(message: ServerEventMessage): JsonElement {
            val body = JsonValues.body(message.json)
            return body.takeIf { it is JsonPrimitive && it.isString } ?: invalid("String", "expected a JSON string, got '${message.json}'")
        }

        /** A member without an argument: the body must be empty. */
        fun noArgument(message: ServerEventMessage) {
            if (message.json.isNotBlank()) invalid("()", "${message.target} takes no argument but the message has a body")
        }
    }
}
