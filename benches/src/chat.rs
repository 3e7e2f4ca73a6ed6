//! The chat message every benchmark sends: ServiceStack's `ChatMessage` plus a send timestamp.

use serde::Deserialize;

/// The channel the delivery benchmarks publish on.
pub const CHANNEL: &str = "bench";
/// The selector (`cmd.chat`), handled by a `chat` handler in every client.
pub const SELECTOR: &str = "cmd.chat";

/// The typed struct the clients decode each message into.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    /// Increasing message id.
    pub id: u64,
    /// The channel it was posted to.
    pub channel: String,
    /// Sender's user id.
    pub from_user_id: String,
    /// Sender's name.
    pub from_name: String,
    /// Sender's display name (not sent by the benchmarks, to keep bodies at 120 B).
    #[serde(default)]
    pub display_name: String,
    /// The text.
    pub message: String,
    /// Whether it was a private message.
    #[serde(default)]
    pub private: bool,
    /// `CLOCK_MONOTONIC` nanoseconds when the publisher sent it (0 when not timed).
    pub sent_ns: u64,
}

/// A `ChatMessage` JSON body of exactly `len` bytes (when `len` is at least
/// [`min_chat_len`]), padding the text.
pub fn chat_json(id: u64, sent_ns: u64, len: usize) -> String {
    let head = format!(
        "{{\"id\":{id},\"channel\":\"{CHANNEL}\",\"fromUserId\":\"-1\",\"fromName\":\"user1\",\"message\":\""
    );
    let tail = format!("\",\"sentNs\":{sent_ns}}}");
    let pad = len.saturating_sub(head.len() + tail.len()).max(1);
    let mut json = String::with_capacity(head.len() + pad + tail.len());
    json.push_str(&head);
    // A readable, escape-free filler.
    const WORDS: &[u8] = b"lorem ipsum dolor sit amet consectetur adipiscing elit ";
    json.extend((0..pad).map(|i| WORDS[i % WORDS.len()] as char));
    json.push_str(&tail);
    json
}

/// The smallest length [`chat_json`] can honour for this id.
pub fn min_chat_len(id: u64, sent_ns: u64) -> usize {
    chat_json(id, sent_ns, 0).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_requested_length_and_parse() {
        for len in [120, 200, 4096] {
            let json = chat_json(12345, 987, len);
            assert_eq!(json.len(), len);
            assert!(min_chat_len(9_999_999, u64::MAX) <= 120);
            let msg: ChatMessage = serde_json::from_str(&json).unwrap();
            assert_eq!(
                (msg.id, msg.sent_ns, msg.channel.as_str()),
                (12345, 987, "bench")
            );
        }
    }
}
