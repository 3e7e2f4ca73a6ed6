// A JSON value for the tests (scenarios, events, message bodies), decoded and encoded with
// Foundation's Codable, so it behaves the same on Darwin and Linux; and the matching rules of
// conformance-tests' matching.rs.

import Foundation

enum JSON: Equatable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSON].self) {
            self = .array(value)
        } else {
            self = try .object(container.decode([String: JSON].self))
        }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case let .bool(value): try container.encode(value)
        case let .number(value):
            if value.rounded() == value, abs(value) < 9.0e15 {
                try container.encode(Int64(value))
            } else {
                try container.encode(value)
            }
        case let .string(value): try container.encode(value)
        case let .array(value): try container.encode(value)
        case let .object(value): try container.encode(value)
        }
    }

    /// Parses JSON text (any value at the top level).
    static func parse(_ text: String) throws -> JSON {
        try JSONDecoder().decode(JSON.self, from: Data(text.utf8))
    }

    /// A message body: parsed JSON, or `null` when it is empty or not JSON.
    static func body(_ text: String) -> JSON {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return .null }
        return (try? parse(text)) ?? .null
    }

    var text: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    var description: String { text }

    static func of(_ value: String?) -> JSON { value.map { .string($0) } ?? .null }
    static func of<N: BinaryInteger>(_ value: N?) -> JSON { value.map { .number(Double($0)) } ?? .null }
    static func of(_ values: [String]) -> JSON { .array(values.map { .string($0) }) }

    subscript(key: String) -> JSON? {
        if case let .object(fields) = self { return fields[key] }
        return nil
    }

    var stringValue: String? {
        if case let .string(value) = self { return value }
        return nil
    }

    var numberValue: Double? {
        if case let .number(value) = self { return value }
        return nil
    }

    var intValue: Int? { numberValue.map { Int($0) } }

    var boolValue: Bool? {
        if case let .bool(value) = self { return value }
        return nil
    }

    var arrayValue: [JSON]? {
        if case let .array(value) = self { return value }
        return nil
    }

    var objectValue: [String: JSON]? {
        if case let .object(value) = self { return value }
        return nil
    }

    /// A variable's text: strings as they are, numbers and booleans as JSON, arrays joined by `,`.
    var variableText: String? {
        switch self {
        case let .string(value): return value
        case .number, .bool: return text
        case let .array(items): return items.map { $0.stringValue ?? "" }.joined(separator: ",")
        default: return nil
        }
    }

    /// `fields.body.message` for the path `body.message`; `nil` when a part is missing.
    func at(_ path: String) -> JSON? {
        var current: JSON = self
        for part in path.split(separator: ".", omittingEmptySubsequences: false).map(String.init) {
            switch current {
            case let .object(fields):
                guard let next = fields[part] else { return nil }
                current = next
            case let .array(items):
                guard let index = Int(part), items.indices.contains(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    /// Whether these fields satisfy every entry of `matcher` (variables already substituted).
    func matches(_ matcher: [String: JSON]) throws -> Bool {
        for (path, expected) in matcher {
            let holds = try JSON.valueMatches(at(path), expected)
            if !holds { return false }
        }
        return true
    }

    private static func valueMatches(_ actual: JSON?, _ expected: JSON) throws -> Bool {
        guard case let .object(ops) = expected, !ops.isEmpty, ops.keys.allSatisfy({ $0.hasPrefix("$") }) else {
            return actual.map { $0 == expected } ?? false
        }
        for (op, operand) in ops {
            let text = actual?.stringValue
            let holds: Bool
            switch op {
            case "$startsWith": holds = text != nil && operand.stringValue != nil && text!.hasPrefix(operand.stringValue!)
            case "$endsWith": holds = text != nil && operand.stringValue != nil && text!.hasSuffix(operand.stringValue!)
            case "$contains":
                if let text = text {
                    holds = operand.stringValue.map { text.contains($0) } ?? false
                } else if case let .array(items)? = actual {
                    holds = items.contains(operand)
                } else {
                    holds = false
                }
            case "$gt": holds = compare(actual, operand, >)
            case "$gte": holds = compare(actual, operand, >=)
            case "$lt": holds = compare(actual, operand, <)
            case "$exists":
                guard let wanted = operand.boolValue else { throw TestFailure("$exists takes a boolean") }
                let present = actual != nil && actual != .null
                holds = present == wanted
            case "$ne": holds = !(actual.map { $0 == operand } ?? false)
            default: throw TestFailure("unknown match operator \(op)")
            }
            if !holds { return false }
        }
        return true
    }

    private static func compare(_ actual: JSON?, _ operand: JSON, _ test: (Double, Double) -> Bool) -> Bool {
        guard let a = actual?.numberValue, let b = operand.numberValue else { return false }
        return test(a, b)
    }
}

/// A failed step or check, with its reason.
struct TestFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
