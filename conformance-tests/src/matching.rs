//! Variables (`$baseUrl`, `$c1.id`) and `match` objects (FORMAT.md, "Matching").

use serde_json::{Map, Value};

/// Looks variables up: `("baseUrl", None)` or `("c1", Some("id"))`. `Ok(None)` means "not a
/// variable" (the text stays as it is); `Err` means a known client whose variable is not set yet.
pub trait Variables {
    /// Resolves one variable.
    fn lookup(&self, name: &str, field: Option<&str>) -> Result<Option<String>, String>;
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Replaces every `$name` and `$client.var` in `text`. A `$` that does not start a known
/// variable (as in `cmd.toggle$#channels`) is kept.
pub fn substitute(text: &str, vars: &dyn Variables) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let name_len = after.find(|c: char| !is_ident(c)).unwrap_or(after.len());
        let name = &after[..name_len];
        let tail = &after[name_len..];
        // `$client.var`?
        if let Some(field_text) = tail.strip_prefix('.') {
            let field_len = field_text
                .find(|c: char| !is_ident(c))
                .unwrap_or(field_text.len());
            let field = &field_text[..field_len];
            if !name.is_empty()
                && !field.is_empty()
                && let Some(value) = vars.lookup(name, Some(field))?
            {
                out.push_str(&value);
                rest = &field_text[field_len..];
                continue;
            }
        }
        if !name.is_empty()
            && let Some(value) = vars.lookup(name, None)?
        {
            out.push_str(&value);
            rest = tail;
            continue;
        }
        out.push('$');
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

/// `value` with variables substituted in every string (keys are left alone).
pub fn substitute_value(value: &Value, vars: &dyn Variables) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) => Value::String(substitute(text, vars)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| substitute_value(item, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), substitute_value(v, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// JSON equality where numbers compare by value (`1 == 1.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The value at a dotted path (`body.message`, `channels.0`); `None` when absent.
pub fn get_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |current, part| match current {
            Value::Object(map) => map.get(part),
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

fn is_operator_object(map: &Map<String, Value>) -> bool {
    !map.is_empty() && map.keys().all(|k| k.starts_with('$'))
}

fn number(value: Option<&Value>) -> Option<f64> {
    value.and_then(Value::as_f64)
}

/// Whether one expected value holds for `actual` (`None` = the field is absent).
fn value_matches(actual: Option<&Value>, expected: &Value) -> Result<bool, String> {
    let Value::Object(ops) = expected else {
        return Ok(actual.is_some_and(|a| json_eq(a, expected)));
    };
    if !is_operator_object(ops) {
        return Ok(actual.is_some_and(|a| json_eq(a, expected)));
    }
    for (op, operand) in ops {
        let text = actual.and_then(Value::as_str);
        let holds = match op.as_str() {
            "$startsWith" => text
                .zip(operand.as_str())
                .is_some_and(|(t, p)| t.starts_with(p)),
            "$endsWith" => text
                .zip(operand.as_str())
                .is_some_and(|(t, p)| t.ends_with(p)),
            "$contains" => match actual {
                Some(Value::String(t)) => operand.as_str().is_some_and(|p| t.contains(p)),
                Some(Value::Array(items)) => items.iter().any(|item| json_eq(item, operand)),
                _ => false,
            },
            "$gt" => number(actual)
                .zip(operand.as_f64())
                .is_some_and(|(a, b)| a > b),
            "$gte" => number(actual)
                .zip(operand.as_f64())
                .is_some_and(|(a, b)| a >= b),
            "$lt" => number(actual)
                .zip(operand.as_f64())
                .is_some_and(|(a, b)| a < b),
            "$exists" => {
                let wanted = operand
                    .as_bool()
                    .ok_or_else(|| "$exists takes a boolean".to_owned())?;
                actual.is_some_and(|a| !a.is_null()) == wanted
            }
            "$ne" => !actual.is_some_and(|a| json_eq(a, operand)),
            other => return Err(format!("unknown match operator {other}")),
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether `fields` satisfies every entry of `matcher` (variables must already be substituted).
pub fn matches(fields: &Value, matcher: &Map<String, Value>) -> Result<bool, String> {
    for (path, expected) in matcher {
        if !value_matches(get_path(fields, path), expected)? {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    struct Vars;
    impl Variables for Vars {
        fn lookup(&self, name: &str, field: Option<&str>) -> Result<Option<String>, String> {
            Ok(match (name, field) {
                ("baseUrl", None) => Some("http://h:1".into()),
                ("c1", Some("id")) => Some("ID1".into()),
                ("c1", Some(other)) => return Err(format!("$c1.{other} is not set")),
                _ => None,
            })
        }
    }

    #[test]
    fn substitutes_known_variables_only() {
        assert_eq!(
            substitute("$baseUrl/event-heartbeat?id=$c1.id", &Vars).unwrap(),
            "http://h:1/event-heartbeat?id=ID1"
        );
        assert_eq!(
            substitute("cmd.toggle$#channels", &Vars).unwrap(),
            "cmd.toggle$#channels"
        );
        assert_eq!(
            substitute("$unknown.id and $", &Vars).unwrap(),
            "$unknown.id and $"
        );
        assert_eq!(substitute("$c1.id.", &Vars).unwrap(), "ID1.");
        assert!(substitute("$c1.heartbeatUrl", &Vars).is_err());
    }

    #[test]
    fn matches_paths_and_operators() {
        let event = json!({"id": 3, "body": {"message": "hi", "n": 2.0}, "channels": ["A", "B"], "css": null});
        let ok = |m: Value| matches(&event, m.as_object().unwrap()).unwrap();
        assert!(ok(json!({"id": 3.0, "body.message": "hi", "body.n": 2})));
        assert!(ok(json!({"channels": ["A", "B"], "channels.1": "B"})));
        assert!(!ok(json!({"channels": ["B", "A"]})));
        assert!(ok(
            json!({"body.message": {"$startsWith": "h", "$endsWith": "i"}, "id": {"$gt": 2, "$lt": 4}})
        ));
        assert!(ok(
            json!({"channels": {"$contains": "A"}, "css": {"$exists": false}, "missing": {"$exists": false}})
        ));
        assert!(ok(json!({"id": {"$ne": 4}, "missing": {"$ne": 1}})));
        assert!(!ok(json!({"missing": 1})));
        assert!(ok(json!({"body": {"message": "hi", "n": 2}})));
        assert!(matches(&event, json!({"id": {"$bogus": 1}}).as_object().unwrap()).is_err());
    }
}
