//! The `sse:topic` message grammar of ServiceStack's `RedisServerEvents`:
//! `<key>[ <selector>[@<channel>]][ <json>]`, keys `notify.{all|channel|subscription|userid|
//! username|session}[.{who}]`, `unregister.id.{id}`, `pulse.id.{id}`, `subscribe.id.{id}`,
//! `unsubscribe.id.{id}` and the `CTRL` messages of `RedisPubSubServer`.
//!
//! Unlike ServiceStack, which splits the key on every `.` and so truncates `john.doe` to
//! `john`, the target is everything after the second `.`; dotted names route correctly.

use crate::registry::Target;

/// Which index a notification targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    All,
    Channel,
    Subscription,
    UserId,
    UserName,
    Session,
}

impl Kind {
    fn token(self) -> &'static str {
        match self {
            Kind::All => "all",
            Kind::Channel => "channel",
            Kind::Subscription => "subscription",
            Kind::UserId => "userid",
            Kind::UserName => "username",
            Kind::Session => "session",
        }
    }

    fn of_token(token: &str) -> Option<Kind> {
        Some(match token {
            "all" => Kind::All,
            "channel" => Kind::Channel,
            "subscription" => Kind::Subscription,
            "userid" => Kind::UserId,
            "username" => Kind::UserName,
            "session" => Kind::Session,
            _ => return None,
        })
    }
}

/// One parsed topic message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TopicMessage {
    /// A notification for local recipients.
    Notify {
        kind: Kind,
        who: String,
        selector: String,
        filter: Option<String>,
        body: String,
    },
    /// `unregister.id.{id}`.
    Unregister(String),
    /// `pulse.id.{id}`.
    Pulse(String),
    /// `subscribe.id.{id} "a,b"`.
    Subscribe(String, Vec<String>),
    /// `unsubscribe.id.{id} "a,b"`.
    Unsubscribe(String, Vec<String>),
    /// `CTRL`, `CTRL:PULSE` and other `RedisPubSubServer` control messages: ignored.
    Control,
}

/// Why a topic message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed sse:topic message: {0}")]
pub(crate) struct Malformed(pub(crate) &'static str);

/// Formats a notification. `None` when a name cannot be carried by the grammar (a space or
/// line break in the target, or an empty target).
pub(crate) fn notify(
    target: Target<'_>,
    selector: &str,
    body: &[u8],
    filter: Option<&str>,
) -> Option<String> {
    let (kind, who) = match target {
        Target::All => (Kind::All, None),
        Target::Channel(c) => (Kind::Channel, Some(c)),
        Target::Subscription(c) => (Kind::Subscription, Some(c)),
        Target::UserId(c) => (Kind::UserId, Some(c)),
        Target::UserName(c) => (Kind::UserName, Some(c)),
        Target::Session(c) => (Kind::Session, Some(c)),
    };
    let mut out = format!("notify.{}", kind.token());
    if let Some(who) = who {
        if who.is_empty() || who.contains([' ', '\r', '\n']) {
            return None;
        }
        out.push('.');
        out.push_str(who);
    }
    out.push(' ');
    out.push_str(selector);
    if let Some(f) = filter {
        out.push('@');
        out.push_str(f);
    }
    if !body.is_empty() {
        out.push(' ');
        out.push_str(&String::from_utf8_lossy(body));
    }
    Some(out)
}

/// `{verb}.id.{id}` with an optional JSON-string argument (comma-joined channels).
pub(crate) fn control(verb: &str, id: &str, channels: Option<&[String]>) -> String {
    match channels {
        None => format!("{verb}.id.{id}"),
        Some(chs) => format!(
            "{verb}.id.{id} {}",
            serde_json::Value::String(chs.join(","))
        ),
    }
}

/// Parses one message from the topic.
pub(crate) fn parse(text: &str) -> Result<TopicMessage, Malformed> {
    if text.split(':').next() == Some("CTRL") {
        return Ok(TopicMessage::Control);
    }
    let (key, rest) = match text.split_once(' ') {
        Some((k, r)) => (k, Some(r)),
        None => (text, None),
    };
    let (verb, after) = key.split_once('.').ok_or(Malformed("no '.' in the key"))?;
    match verb {
        "notify" => {
            let (kind, who) = match after.split_once('.') {
                Some((k, who)) => (k, who),
                None => (after, ""),
            };
            let kind = Kind::of_token(kind).ok_or(Malformed("unknown notify target"))?;
            if (kind == Kind::All) != who.is_empty() {
                return Err(Malformed("notify target without a name"));
            }
            let rest = rest.ok_or(Malformed("notify without a selector"))?;
            let (selector, body) = match rest.split_once(' ') {
                Some((s, b)) => (s, b),
                None => (rest, ""),
            };
            let (selector, filter) = match selector.split_once('@') {
                Some((s, f)) => (s, Some(f.to_string())),
                None => (selector, None),
            };
            if selector.is_empty() {
                return Err(Malformed("empty selector"));
            }
            Ok(TopicMessage::Notify {
                kind,
                who: who.to_string(),
                selector: selector.to_string(),
                filter,
                body: body.to_string(),
            })
        }
        "unregister" | "pulse" | "subscribe" | "unsubscribe" => {
            let id = after
                .strip_prefix("id.")
                .filter(|id| !id.is_empty())
                .ok_or(Malformed("expected '.id.{id}'"))?
                .to_string();
            match verb {
                "unregister" => Ok(TopicMessage::Unregister(id)),
                "pulse" => Ok(TopicMessage::Pulse(id)),
                _ => {
                    let arg = rest.ok_or(Malformed("channel change without channels"))?;
                    let csv: String = serde_json::from_str(arg)
                        .map_err(|_| Malformed("channels are not a JSON string"))?;
                    let channels = csv
                        .split(',')
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .collect();
                    Ok(if verb == "subscribe" {
                        TopicMessage::Subscribe(id, channels)
                    } else {
                        TopicMessage::Unsubscribe(id, channels)
                    })
                }
            }
        }
        _ => Err(Malformed("unknown key")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_round_trip_in_servicestack_shape() {
        let text = notify(
            Target::Channel("home"),
            "cmd.chat",
            br#"{"message":"hi"}"#,
            None,
        )
        .unwrap();
        assert_eq!(text, r#"notify.channel.home cmd.chat {"message":"hi"}"#);
        assert_eq!(
            parse(&text).unwrap(),
            TopicMessage::Notify {
                kind: Kind::Channel,
                who: "home".into(),
                selector: "cmd.chat".into(),
                filter: None,
                body: r#"{"message":"hi"}"#.into(),
            }
        );
        let text = notify(
            Target::UserId("42"),
            "cmd.alert",
            b"\"hello\"",
            Some("home"),
        )
        .unwrap();
        assert_eq!(text, r#"notify.userid.42 cmd.alert@home "hello""#);
        let TopicMessage::Notify { filter, body, .. } = parse(&text).unwrap() else {
            panic!("not a notify");
        };
        assert_eq!(filter.as_deref(), Some("home"));
        assert_eq!(body, "\"hello\"");
        assert_eq!(
            notify(Target::All, "cmd.x", b"", None).unwrap(),
            "notify.all cmd.x"
        );
        assert!(matches!(
            parse("notify.all cmd.x").unwrap(),
            TopicMessage::Notify { kind: Kind::All, ref body, .. } if body.is_empty()
        ));
    }

    #[test]
    fn dotted_names_are_not_truncated() {
        let text = notify(Target::UserName("john.doe"), "cmd.hi", b"1", None).unwrap();
        assert_eq!(text, "notify.username.john.doe cmd.hi 1");
        let TopicMessage::Notify { who, .. } = parse(&text).unwrap() else {
            panic!("not a notify");
        };
        assert_eq!(who, "john.doe");
    }

    #[test]
    fn names_the_grammar_cannot_carry_are_refused() {
        assert_eq!(notify(Target::Channel("a b"), "cmd.x", b"", None), None);
        assert_eq!(notify(Target::Session(""), "cmd.x", b"", None), None);
    }

    #[test]
    fn control_messages_and_channel_changes() {
        assert_eq!(parse("CTRL:PULSE").unwrap(), TopicMessage::Control);
        assert_eq!(parse("CTRL").unwrap(), TopicMessage::Control);
        assert_eq!(
            parse("unregister.id.aZ3k").unwrap(),
            TopicMessage::Unregister("aZ3k".into())
        );
        assert_eq!(
            parse("pulse.id.aZ3k").unwrap(),
            TopicMessage::Pulse("aZ3k".into())
        );
        let text = control("subscribe", "aZ3k", Some(&["B".into(), "C".into()]));
        assert_eq!(text, r#"subscribe.id.aZ3k "B,C""#);
        assert_eq!(
            parse(&text).unwrap(),
            TopicMessage::Subscribe("aZ3k".into(), vec!["B".into(), "C".into()])
        );
        assert_eq!(
            parse(r#"unsubscribe.id.X "A""#).unwrap(),
            TopicMessage::Unsubscribe("X".into(), vec!["A".into()])
        );
    }

    #[test]
    fn malformed_messages_are_rejected_not_panicked_on() {
        for bad in [
            "",
            "hello",
            "notify",
            "notify.nobody.x cmd.y",
            "notify.channel cmd.y",
            "notify.all",
            "notify.channel.home",
            "notify.channel.home @x",
            "pulse.id.",
            "pulse.x.y",
            "subscribe.id.X",
            "subscribe.id.X [1]",
            "frobnicate.id.X",
            "\u{0}.\u{0}",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
