//! The Chat app's per-channel history behind `GetChatHistory`: the last N channel chats of
//! each channel, bounded so a busy channel cannot grow the server without limit.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

use crate::util::lock;

/// Recent chat messages per channel, each kept as its serialised `ChatMessage` JSON.
pub(crate) struct ChatHistory {
    capacity: usize,
    channels: Mutex<HashMap<String, VecDeque<(u64, Bytes)>>>,
}

impl ChatHistory {
    pub(crate) fn new(capacity: usize) -> Self {
        ChatHistory {
            capacity,
            channels: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps message `id` of `channel`, dropping the channel's oldest beyond the capacity.
    pub(crate) fn record(&self, channel: &str, id: u64, json: Bytes) {
        if self.capacity == 0 {
            return;
        }
        let mut channels = lock(&self.channels);
        let kept = channels.entry(channel.to_string()).or_default();
        kept.push_back((id, json));
        while kept.len() > self.capacity {
            kept.pop_front();
        }
    }

    /// The kept messages of `channels` with an id above `after_id`, oldest first (ids are
    /// process-wide, so this merges channels in posting order), the newest `take` of them.
    pub(crate) fn after(
        &self,
        channels: &[String],
        after_id: u64,
        take: Option<usize>,
    ) -> Vec<Bytes> {
        let kept = lock(&self.channels);
        let mut found: Vec<(u64, Bytes)> = Vec::new();
        for (i, ch) in channels.iter().enumerate() {
            if channels[..i].contains(ch) {
                continue;
            }
            if let Some(messages) = kept.get(ch) {
                found.extend(messages.iter().filter(|(id, _)| *id > after_id).cloned());
            }
        }
        found.sort_by_key(|(id, _)| *id);
        let skip = take.map_or(0, |t| found.len().saturating_sub(t));
        found.into_iter().skip(skip).map(|(_, m)| m).collect()
    }

    pub(crate) fn clear(&self) {
        lock(&self.channels).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(v: Vec<Bytes>) -> Vec<String> {
        v.into_iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn keeps_the_newest_per_channel_and_merges_in_id_order() {
        let history = ChatHistory::new(2);
        history.record("a", 1, Bytes::from("a1"));
        history.record("b", 2, Bytes::from("b2"));
        history.record("a", 3, Bytes::from("a3"));
        history.record("a", 4, Bytes::from("a4"));
        let all = |after, take| history.after(&["a".into(), "b".into(), "a".into()], after, take);
        assert_eq!(texts(all(0, None)), ["b2", "a3", "a4"]);
        assert_eq!(texts(all(2, None)), ["a3", "a4"]);
        assert_eq!(texts(all(0, Some(1))), ["a4"]);
        assert!(history.after(&["none".into()], 0, None).is_empty());
        history.clear();
        assert!(all(0, None).is_empty());
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let history = ChatHistory::new(0);
        history.record("a", 1, Bytes::from("a1"));
        assert!(history.after(&["a".into()], 0, None).is_empty());
    }
}
