// Event matching and variable substitution, as conformance-tests/scenarios/FORMAT.md defines them
// (the same rules as the Rust leg's matching.rs).

/** Replaces `$baseUrl` and `$<client>.<var>` in `text`; `lookup(name, field)` returns a string or undefined. */
export function substitute(text, lookup) {
  return text.replace(/\$([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?/g, (whole, name, field) => {
    if (field !== undefined) {
      const value = lookup(name, field);
      if (value !== undefined) return value;
    }
    const plain = lookup(name, undefined);
    if (plain !== undefined) return plain + (field !== undefined ? `.${field}` : "");
    return whole;
  });
}

/** `substitute` applied to every string inside a JSON value. */
export function substituteValue(value, lookup) {
  if (typeof value === "string") return substitute(value, lookup);
  if (Array.isArray(value)) return value.map((item) => substituteValue(item, lookup));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteValue(v, lookup)]));
  }
  return value;
}

/** JSON equality (numbers by value, arrays in order, objects by keys). */
export function jsonEqual(a, b) {
  if (a === b) return true;
  if (typeof a === "number" && typeof b === "number") return a === b;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/** The value at a dotted path (`body.message`), or undefined. */
export function getPath(value, path) {
  let current = value;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = current[part];
  }
  return current;
}

function isOperatorObject(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    Object.keys(value).length > 0 &&
    Object.keys(value).every((k) => k.startsWith("$"))
  );
}

function valueMatches(actual, expected) {
  if (!isOperatorObject(expected)) {
    return actual !== undefined && jsonEqual(actual, expected);
  }
  for (const [op, operand] of Object.entries(expected)) {
    const text = typeof actual === "string" ? actual : undefined;
    let holds;
    switch (op) {
      case "$startsWith":
        holds = text !== undefined && text.startsWith(operand);
        break;
      case "$endsWith":
        holds = text !== undefined && text.endsWith(operand);
        break;
      case "$contains":
        holds = Array.isArray(actual)
          ? actual.some((item) => jsonEqual(item, operand))
          : text !== undefined && text.includes(operand);
        break;
      case "$gt":
        holds = typeof actual === "number" && actual > operand;
        break;
      case "$gte":
        holds = typeof actual === "number" && actual >= operand;
        break;
      case "$lt":
        holds = typeof actual === "number" && actual < operand;
        break;
      case "$exists":
        if (typeof operand !== "boolean") throw new Error("$exists takes a boolean");
        holds = (actual !== undefined && actual !== null) === operand;
        break;
      case "$ne":
        holds = !(actual !== undefined && jsonEqual(actual, operand));
        break;
      default:
        throw new Error(`unknown match operator ${op}`);
    }
    if (!holds) return false;
  }
  return true;
}

/** Whether `fields` satisfies every entry of `matcher`. */
export function matches(fields, matcher) {
  return Object.entries(matcher ?? {}).every(([path, expected]) => valueMatches(getPath(fields, path), expected));
}
