//! `ServerEventMessage`, the typed commands, and the selector grammar
//! `[channel@]op.target[$cssSelector] body`.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::error::{Error, truncate};
use crate::json;

/// One event received from the server, with its selector split into parts.
///
/// The parts are views into [`data`](Self::data), so a message costs one allocation.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerEventMessage {
    event_id: u64,
    data: String,
    /// Byte ranges into `data`.
    channel: Option<(usize, usize)>,
    selector: Option<(usize, usize)>,
    op: Option<(usize, usize)>,
    target: Option<(usize, usize)>,
    /// The target with `%20` decoded, only when it contained `%20`.
    target_decoded: Option<String>,
    css_selector: Option<(usize, usize)>,
    /// The CSS selector with `%20` decoded, only when it contained `%20`.
    css_selector_decoded: Option<String>,
    json: (usize, usize),
}

impl fmt::Debug for ServerEventMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerEventMessage")
            .field("event_id", &self.event_id)
            .field("channel", &self.channel())
            .field("selector", &self.selector())
            .field("op", &self.op())
            .field("target", &self.target())
            .field("css_selector", &self.css_selector())
            .field("json", &truncate(self.json(), 200))
            .finish()
    }
}

impl ServerEventMessage {
    /// Parses the `data:` text of an event, as ServiceStack clients do.
    ///
    /// Text without a space is not a ServiceStack message: it is kept whole, with no selector.
    /// A selector without `.` is an error.
    ///
    /// ```
    /// use servicestack_events::ServerEventMessage;
    ///
    /// let msg = ServerEventMessage::parse(4, "home@cmd.toggle$#channels ".to_owned()).unwrap();
    /// assert_eq!(msg.channel(), Some("home"));
    /// assert_eq!(msg.selector(), Some("cmd.toggle$#channels"));
    /// assert_eq!((msg.op(), msg.target(), msg.css_selector()), (Some("cmd"), Some("toggle"), Some("#channels")));
    /// assert_eq!(msg.json(), "");
    /// ```
    pub fn parse(event_id: u64, data: String) -> Result<Self, Error> {
        let mut message = ServerEventMessage {
            event_id,
            channel: None,
            selector: None,
            op: None,
            target: None,
            target_decoded: None,
            css_selector: None,
            css_selector_decoded: None,
            json: (0, data.len()),
            data,
        };
        let Some(space) = message.data.find(' ') else {
            return Ok(message);
        };
        message.json = (space + 1, message.data.len());
        let head = message.data.get(..space).unwrap_or_default();
        let selector_start = match head.find('@') {
            Some(at) => {
                message.channel = Some((0, at));
                at + 1
            }
            None => 0,
        };
        message.selector = Some((selector_start, space));
        let selector = message.data.get(selector_start..space).unwrap_or_default();
        if selector.is_empty() {
            return Ok(message);
        }
        let Some(dot) = selector.find('.') else {
            return Err(Error::Protocol {
                reason: format!("invalid selector '{selector}': expected op.target"),
                data: truncate(&message.data, 200),
            });
        };
        let op_end = selector_start + dot;
        message.op = Some((selector_start, op_end));
        let target_start = op_end + 1;
        let target_end = match selector.get(dot + 1..).and_then(|target| target.find('$')) {
            Some(dollar) => {
                let css_start = target_start + dollar + 1;
                message.css_selector = Some((css_start, space));
                target_start + dollar
            }
            None => space,
        };
        message.target = Some((target_start, target_end));
        // ServiceStack's clients decode `%20` in the whole target before splitting at `$`, so a
        // CSS selector such as `a%20img` reaches the page as `a img`.
        message.target_decoded = decoded_spaces(message.slice(message.target));
        message.css_selector_decoded = decoded_spaces(message.slice(message.css_selector));
        Ok(message)
    }

    fn slice(&self, range: Option<(usize, usize)>) -> Option<&str> {
        range.map(|(start, end)| self.data.get(start..end).unwrap_or_default())
    }

    /// The SSE event id (`0` when the event had none or it was not a number).
    pub fn event_id(&self) -> u64 {
        self.event_id
    }

    /// The whole `data:` text, channel prefix included.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The channel the message was published to, when it carried a `channel@` prefix.
    pub fn channel(&self) -> Option<&str> {
        self.slice(self.channel)
    }

    /// The selector without its channel prefix, e.g. `cmd.chat` or `css.color$#top`.
    pub fn selector(&self) -> Option<&str> {
        self.slice(self.selector)
    }

    /// The part of the selector before the first `.`, e.g. `cmd`.
    pub fn op(&self) -> Option<&str> {
        self.slice(self.op)
    }

    /// The part after the op and before any `$`, with `%20` decoded to spaces.
    pub fn target(&self) -> Option<&str> {
        self.target_decoded
            .as_deref()
            .or_else(|| self.slice(self.target))
    }

    /// The part after the first `$`, when there was one, with `%20` decoded to spaces.
    pub fn css_selector(&self) -> Option<&str> {
        self.css_selector_decoded
            .as_deref()
            .or_else(|| self.slice(self.css_selector))
    }

    /// The body text after the selector (may be empty).
    pub fn json(&self) -> &str {
        self.data.get(self.json.0..self.json.1).unwrap_or_default()
    }

    /// The body deserialized into `T`. Property names match case-insensitively, so the same type
    /// reads camelCase (.NET Core) and PascalCase (.NET Framework) servers. An empty body reads as
    /// JSON `null`.
    ///
    /// ```
    /// # use servicestack_events::ServerEventMessage;
    /// #[derive(serde::Deserialize)]
    /// struct Chat { from_name: String, message: String }
    ///
    /// let msg = ServerEventMessage::parse(1, r#"cmd.chat {"FromName":"ann","Message":"hi"}"#.into()).unwrap();
    /// let chat: Chat = msg.parse_json().unwrap();
    /// assert_eq!((chat.from_name.as_str(), chat.message.as_str()), ("ann", "hi"));
    /// ```
    pub fn parse_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        json::from_str_case_insensitive(self.json())
    }

    /// The body as a generic JSON value (`Null` when empty).
    pub fn json_value(&self) -> Result<serde_json::Value, Error> {
        self.parse_json()
    }
}

/// `part` with `%20` decoded to spaces, only when it contains `%20`. Byte by byte rather than
/// with `str::replace`, whose substring searcher is sizeable in the wasm module.
fn decoded_spaces(part: Option<&str>) -> Option<String> {
    const ESCAPED_SPACE: &[u8] = b"%20";
    let mut rest = part?.as_bytes();
    if !rest
        .windows(ESCAPED_SPACE.len())
        .any(|w| w == ESCAPED_SPACE)
    {
        return None;
    }
    let mut decoded = Vec::with_capacity(rest.len());
    while let Some((&byte, tail)) = rest.split_first() {
        match rest.strip_prefix(ESCAPED_SPACE) {
            Some(after) => {
                decoded.push(b' ');
                rest = after;
            }
            None => {
                decoded.push(byte);
                rest = tail;
            }
        }
    }
    // Only ASCII `%20` was replaced by ASCII ` `: still UTF-8.
    String::from_utf8(decoded).ok()
}

/// Which built-in command a [`ServerEventCommand`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    /// `cmd.onConnect`: this client's own subscription was created.
    Connect,
    /// `cmd.onJoin`: a subscriber joined a channel.
    Join,
    /// `cmd.onLeave`: a subscriber left a channel.
    Leave,
    /// `cmd.onUpdate`: a subscriber's channels changed.
    Update,
    /// `cmd.onHeartbeat`: the server answered this client's heartbeat.
    Heartbeat,
}

impl CommandKind {
    /// The kind for a `cmd.*` target, if it is a built-in command.
    pub fn from_target(target: &str) -> Option<Self> {
        match target {
            "onConnect" => Some(CommandKind::Connect),
            "onJoin" => Some(CommandKind::Join),
            "onLeave" => Some(CommandKind::Leave),
            "onUpdate" => Some(CommandKind::Update),
            "onHeartbeat" => Some(CommandKind::Heartbeat),
            _ => None,
        }
    }
}

/// A built-in command about a subscriber: join, leave, update, heartbeat (and the user part of
/// connect). ServiceStack sends these as flat JSON objects whose values are all strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEventCommand {
    /// Which command this is.
    pub kind: CommandKind,
    /// The subscriber's user id (`-N` for anonymous users).
    pub user_id: String,
    /// The subscriber's display name (`userN` for anonymous users).
    pub display_name: String,
    /// The subscriber's profile image URL.
    pub profile_url: Option<String>,
    /// Whether the subscriber is authenticated (`"true"` on the wire).
    pub is_authenticated: bool,
    /// The subscriber's channels.
    pub channels: Vec<String>,
    /// When the subscription was created, in Unix epoch milliseconds.
    pub created_at_ms: Option<i64>,
    /// Every key of the payload, as strings.
    pub meta: BTreeMap<String, String>,
    /// The raw message.
    pub message: ServerEventMessage,
}

impl ServerEventCommand {
    /// Builds the typed command from a parsed `cmd.*` message.
    pub fn from_message(kind: CommandKind, message: ServerEventMessage) -> Result<Self, Error> {
        let meta = string_map(message.json()).map_err(|reason| Error::Protocol {
            reason: format!(
                "{} payload is not a JSON object: {reason}",
                message.selector().unwrap_or("")
            ),
            data: truncate(message.data(), 200),
        })?;
        let get = |key: &str| meta.get(key).cloned();
        Ok(ServerEventCommand {
            kind,
            user_id: get("userId").unwrap_or_default(),
            display_name: get("displayName").unwrap_or_default(),
            profile_url: get("profileUrl"),
            is_authenticated: meta.get("isAuthenticated").is_some_and(|v| v == "true"),
            channels: split_channels(meta.get("channels").map(String::as_str).unwrap_or("")),
            created_at_ms: meta.get("createdAt").and_then(|v| v.parse().ok()),
            meta,
            message,
        })
    }

    /// The channel this notification was published on (join, leave and update carry one).
    pub fn channel(&self) -> Option<&str> {
        self.message.channel()
    }
}

/// The payload of `cmd.onConnect`: this client's subscription and the URLs to manage it.
/// It dereferences to the [`ServerEventCommand`] with the user fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEventConnect {
    /// The subscription id.
    pub id: String,
    /// Where to unregister this subscription.
    pub unregister_url: Option<String>,
    /// Where to send heartbeats.
    pub heartbeat_url: Option<String>,
    /// Where to change this subscription's channels.
    pub update_subscriber_url: Option<String>,
    /// How often the server wants heartbeats.
    pub heartbeat_interval: Duration,
    /// After how much silence the server drops a subscription.
    pub idle_timeout: Duration,
    /// The user part, shared with the other commands.
    pub command: ServerEventCommand,
}

impl Deref for ServerEventConnect {
    type Target = ServerEventCommand;
    fn deref(&self) -> &ServerEventCommand {
        &self.command
    }
}

/// Heartbeat interval used when onConnect does not give a usable one.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// Idle timeout used when onConnect does not give a usable one.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

impl ServerEventConnect {
    /// Builds the connect info from a `cmd.onConnect` message.
    pub fn from_message(message: ServerEventMessage) -> Result<Self, Error> {
        let command = ServerEventCommand::from_message(CommandKind::Connect, message)?;
        let millis = |key: &str, default: Duration| {
            command
                .meta
                .get(key)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|ms| *ms > 0)
                .map_or(default, Duration::from_millis)
        };
        let id = command.meta.get("id").cloned().unwrap_or_default();
        if id.is_empty() {
            return Err(Error::Protocol {
                reason: "cmd.onConnect without a subscription id".into(),
                data: truncate(command.message.data(), 200),
            });
        }
        Ok(ServerEventConnect {
            id,
            unregister_url: non_empty(command.meta.get("unRegisterUrl")),
            heartbeat_url: non_empty(command.meta.get("heartbeatUrl")),
            update_subscriber_url: non_empty(command.meta.get("updateSubscriberUrl")),
            heartbeat_interval: millis("heartbeatIntervalMs", DEFAULT_HEARTBEAT_INTERVAL),
            idle_timeout: millis("idleTimeoutMs", DEFAULT_IDLE_TIMEOUT),
            command,
        })
    }
}

fn non_empty(value: Option<&String>) -> Option<String> {
    value.filter(|v| !v.is_empty()).cloned()
}

/// A subscriber as listed by `/event-subscribers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEventUser {
    /// The user id.
    pub user_id: String,
    /// The display name.
    pub display_name: String,
    /// The profile image URL.
    pub profile_url: Option<String>,
    /// The channels the subscriber is in.
    pub channels: Vec<String>,
    /// Every other key (for example `isAuthenticated`, `createdAt`).
    pub meta: BTreeMap<String, String>,
}

impl ServerEventUser {
    /// Builds a user from one entry of the subscribers list.
    pub fn from_map(map: BTreeMap<String, String>) -> Self {
        let mut user = ServerEventUser {
            user_id: String::new(),
            display_name: String::new(),
            profile_url: None,
            channels: Vec::new(),
            meta: BTreeMap::new(),
        };
        // One pass, moving each value where it belongs (no removals: the B-tree's removal code
        // stays out of the wasm module).
        for (key, value) in map {
            match key.as_str() {
                "userId" => user.user_id = value,
                "displayName" => user.display_name = value,
                "profileUrl" => user.profile_url = Some(value),
                "channels" => user.channels = split_channels(&value),
                _ => {
                    user.meta.insert(key, value);
                }
            }
        }
        user
    }
}

/// Splits a comma-joined channel list; an empty string is no channels.
pub(crate) fn split_channels(list: &str) -> Vec<String> {
    let mut channels = Vec::new();
    if !list.is_empty() {
        for channel in list.split(',') {
            channels.push(channel.to_owned());
        }
    }
    channels
}

/// Reads a flat JSON object as a string map: strings as they are, other scalars as their JSON
/// text, nulls skipped. Nested values are kept as JSON text rather than rejected.
pub(crate) fn string_map(json: &str) -> Result<BTreeMap<String, String>, String> {
    if json.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    crate::flat_json::string_map(json)
}

/// A classified incoming event.
pub(crate) enum Incoming {
    Connect(ServerEventConnect),
    Heartbeat(ServerEventCommand),
    Command(ServerEventCommand),
    Message(ServerEventMessage),
}

impl Incoming {
    /// Sorts a parsed message into built-in commands and everything else.
    pub(crate) fn classify(message: ServerEventMessage) -> Result<Incoming, Error> {
        let kind = match (message.op(), message.target()) {
            (Some("cmd"), Some(target)) => CommandKind::from_target(target),
            _ => None,
        };
        Ok(match kind {
            None => Incoming::Message(message),
            Some(CommandKind::Connect) => {
                Incoming::Connect(ServerEventConnect::from_message(message)?)
            }
            Some(CommandKind::Heartbeat) => Incoming::Heartbeat(ServerEventCommand::from_message(
                CommandKind::Heartbeat,
                message,
            )?),
            Some(kind) => Incoming::Command(ServerEventCommand::from_message(kind, message)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(data: &str) -> ServerEventMessage {
        ServerEventMessage::parse(1, data.to_owned()).unwrap()
    }

    #[test]
    fn splits_every_part_of_a_selector() {
        let msg = parse("A@css.background-image$#top \"url(x)\"");
        assert_eq!(msg.channel(), Some("A"));
        assert_eq!(msg.selector(), Some("css.background-image$#top"));
        assert_eq!(msg.op(), Some("css"));
        assert_eq!(msg.target(), Some("background-image"));
        assert_eq!(msg.css_selector(), Some("#top"));
        assert_eq!(msg.json(), "\"url(x)\"");
        assert_eq!(msg.parse_json::<String>().unwrap(), "url(x)");
    }

    #[test]
    fn target_keeps_extra_dots_and_decodes_spaces() {
        let msg = parse("cmd.a.b%20c {}");
        assert_eq!((msg.op(), msg.target()), (Some("cmd"), Some("a.b c")));
        assert_eq!(msg.channel(), None);
        assert_eq!(msg.css_selector(), None);
    }

    #[test]
    fn every_escaped_space_is_decoded_and_nothing_else() {
        assert_eq!(
            decoded_spaces(Some("%20é%20%2%20%20")).as_deref(),
            Some(" é %2  ")
        );
        assert_eq!(decoded_spaces(Some("a%2b%200")).as_deref(), Some("a%2b 0"));
        assert_eq!(decoded_spaces(Some("no%2escape")), None);
        assert_eq!(decoded_spaces(None), None);
    }

    #[test]
    fn css_selector_decodes_spaces_like_the_target() {
        let msg = parse("css.visibility$a%20img hidden");
        assert_eq!(msg.selector(), Some("css.visibility$a%20img"));
        assert_eq!(msg.target(), Some("visibility"));
        assert_eq!(msg.css_selector(), Some("a img"));
        let both = parse("cmd.with%20space$.a%20.b \"v\"");
        assert_eq!(both.target(), Some("with space"));
        assert_eq!(both.css_selector(), Some(".a .b"));
    }

    #[test]
    fn classification_sorts_built_in_commands_from_messages() {
        let classify = |data: &str| Incoming::classify(parse(data));
        assert!(matches!(
            classify(r#"cmd.onConnect {"id":"x"}"#),
            Ok(Incoming::Connect(info)) if info.id == "x"
        ));
        assert!(matches!(
            classify(r#"cmd.onHeartbeat {"userId":"1"}"#),
            Ok(Incoming::Heartbeat(_))
        ));
        assert!(matches!(
            classify(r#"home@cmd.onJoin {"userId":"1"}"#),
            Ok(Incoming::Command(command)) if command.kind == CommandKind::Join
        ));
        // Other `cmd` targets and ops are application messages, built-in names included.
        assert!(matches!(classify("cmd.chat {}"), Ok(Incoming::Message(_))));
        assert!(matches!(
            classify("css.onJoin {}"),
            Ok(Incoming::Message(_))
        ));
        // A built-in command with a malformed payload is an error to report, not a message.
        assert!(classify("cmd.onJoin [1]").is_err());
    }

    #[test]
    fn data_without_a_space_is_a_plain_message() {
        let msg = parse("hello");
        assert_eq!(
            (msg.selector(), msg.op(), msg.json()),
            (None, None, "hello")
        );
    }

    #[test]
    fn selector_without_a_dot_is_an_error() {
        let err = ServerEventMessage::parse(1, "nodot {}".into()).unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err}");
    }

    #[test]
    fn trailing_space_means_an_empty_body() {
        let msg = parse("cmd.toggle$#channels ");
        assert_eq!(msg.json(), "");
        assert_eq!(msg.parse_json::<Option<String>>().unwrap(), None);
    }

    #[test]
    fn connect_payload_is_typed_from_strings() {
        let msg = parse(
            r#"cmd.onConnect {"userId":"-3","isAuthenticated":"false","displayName":"user3","channels":"A,B","createdAt":"1724300000123","id":"abc","heartbeatUrl":"http://h/event-heartbeat?id=abc","unRegisterUrl":"http://h/event-unregister?id=abc","updateSubscriberUrl":"http://h/event-subscribers/abc","heartbeatIntervalMs":"200","idleTimeoutMs":30000}"#,
        );
        let info = ServerEventConnect::from_message(msg).unwrap();
        assert_eq!(info.id, "abc");
        assert_eq!(info.user_id, "-3");
        assert_eq!(info.display_name, "user3");
        assert!(!info.is_authenticated);
        assert_eq!(info.channels, ["A", "B"]);
        assert_eq!(info.created_at_ms, Some(1_724_300_000_123));
        assert_eq!(info.heartbeat_interval, Duration::from_millis(200));
        assert_eq!(info.idle_timeout, Duration::from_secs(30));
        assert_eq!(
            info.update_subscriber_url.as_deref(),
            Some("http://h/event-subscribers/abc")
        );
    }

    #[test]
    fn connect_without_interval_uses_defaults_not_zero() {
        let info = ServerEventConnect::from_message(parse(
            r#"cmd.onConnect {"id":"x","heartbeatIntervalMs":"0"}"#,
        ))
        .unwrap();
        assert_eq!(info.heartbeat_interval, DEFAULT_HEARTBEAT_INTERVAL);
        assert_eq!(info.idle_timeout, DEFAULT_IDLE_TIMEOUT);
    }

    #[test]
    fn connect_without_id_or_object_is_rejected() {
        assert!(ServerEventConnect::from_message(parse("cmd.onConnect {}")).is_err());
        assert!(ServerEventConnect::from_message(parse("cmd.onConnect [1]")).is_err());
    }

    #[test]
    fn subscriber_map_becomes_a_user() {
        let map: BTreeMap<String, String> = [
            ("userId", "-1"),
            ("displayName", "user1"),
            ("channels", "A,B"),
            ("isAuthenticated", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let user = ServerEventUser::from_map(map);
        assert_eq!(user.channels, ["A", "B"]);
        assert_eq!(
            user.meta.get("isAuthenticated").map(String::as_str),
            Some("false")
        );
        assert!(!user.meta.contains_key("userId"));
    }
}
