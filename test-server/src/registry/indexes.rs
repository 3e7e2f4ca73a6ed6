//! The lookup maps of one server: by id, channel, user id, user name and session.
//!
//! Members of a key are kept in registration order (by serial), so fan-outs and subscriber
//! lists are deterministic.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::subscription::Subscription;

type Members = BTreeMap<u64, Arc<Subscription>>;

/// Every index of one server. Empty member sets are removed, so keys never leak.
#[derive(Default)]
pub(super) struct Indexes {
    pub(super) subs: HashMap<String, Arc<Subscription>>,
    pub(super) channels: HashMap<String, Members>,
    pub(super) user_ids: HashMap<String, Members>,
    pub(super) user_names: HashMap<String, Members>,
    pub(super) sessions: HashMap<String, Members>,
}

impl Indexes {
    /// True when `sub` itself (not another subscription with its id) is registered.
    pub(super) fn is_registered(&self, sub: &Arc<Subscription>) -> bool {
        matches!(self.subs.get(&sub.id), Some(s) if Arc::ptr_eq(s, sub))
    }

    /// Adds `sub` under its id, each of `channels`, its user id, user name and session.
    pub(super) fn insert(&mut self, sub: &Arc<Subscription>, channels: &[String]) {
        for ch in channels {
            Self::add(&mut self.channels, ch, sub);
        }
        self.subs.insert(sub.id.clone(), sub.clone());
        Self::add(&mut self.user_ids, &sub.user_id, sub);
        if let Some(name) = &sub.user_name {
            Self::add(&mut self.user_names, name, sub);
        }
        if let Some(session) = &sub.session_id {
            Self::add(&mut self.sessions, session, sub);
        }
    }

    /// Removes `sub` from every index (its `channels` as given). False when it was not
    /// registered, in which case nothing changes.
    pub(super) fn remove_subscription(
        &mut self,
        sub: &Arc<Subscription>,
        channels: &[String],
    ) -> bool {
        if !self.is_registered(sub) {
            return false;
        }
        self.subs.remove(&sub.id);
        for ch in channels {
            Self::remove(&mut self.channels, ch, sub.serial);
        }
        Self::remove(&mut self.user_ids, &sub.user_id, sub.serial);
        if let Some(name) = &sub.user_name {
            Self::remove(&mut self.user_names, name, sub.serial);
        }
        if let Some(session) = &sub.session_id {
            Self::remove(&mut self.sessions, session, sub.serial);
        }
        true
    }

    pub(super) fn add(map: &mut HashMap<String, Members>, key: &str, sub: &Arc<Subscription>) {
        map.entry(key.to_string())
            .or_default()
            .insert(sub.serial, sub.clone());
    }

    pub(super) fn remove(map: &mut HashMap<String, Members>, key: &str, serial: u64) {
        if let Some(members) = map.get_mut(key) {
            members.remove(&serial);
            if members.is_empty() {
                map.remove(key);
            }
        }
    }

    pub(super) fn members(map: &HashMap<String, Members>, key: &str) -> Vec<Arc<Subscription>> {
        map.get(key)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(subs: Vec<Arc<Subscription>>) -> Vec<String> {
        subs.into_iter().map(|s| s.id.clone()).collect()
    }

    #[test]
    fn insert_indexes_every_key_in_registration_order() {
        let mut idx = Indexes::default();
        let a = Subscription::for_test("a", 1, &["home", "work"], "-1", Some("user"), Some("S"));
        let b = Subscription::for_test("b", 2, &["home"], "-2", None, None);
        idx.insert(&b, &b.channels());
        idx.insert(&a, &a.channels());
        assert_eq!(ids(Indexes::members(&idx.channels, "home")), ["a", "b"]);
        assert_eq!(ids(Indexes::members(&idx.channels, "work")), ["a"]);
        assert_eq!(ids(Indexes::members(&idx.user_ids, "-2")), ["b"]);
        assert_eq!(ids(Indexes::members(&idx.user_names, "user")), ["a"]);
        assert_eq!(ids(Indexes::members(&idx.sessions, "S")), ["a"]);
        assert!(
            idx.user_names.len() == 1 && idx.sessions.len() == 1,
            "no None keys"
        );
        assert!(Indexes::members(&idx.channels, "nope").is_empty());
    }

    #[test]
    fn removal_drops_empty_keys_and_ignores_strangers() {
        let mut idx = Indexes::default();
        let a = Subscription::for_test("a", 1, &["home"], "-1", Some("user"), Some("S"));
        idx.insert(&a, &a.channels());
        // Another subscription object with the same id is not the registered one.
        let twin = Subscription::for_test("a", 9, &["home"], "-1", Some("user"), Some("S"));
        assert!(!idx.remove_subscription(&twin, &twin.channels()));
        assert_eq!(idx.subs.len(), 1);
        assert!(idx.remove_subscription(&a, &a.channels()));
        assert!(!idx.remove_subscription(&a, &a.channels()), "only once");
        assert!(idx.subs.is_empty());
        assert!(idx.channels.is_empty() && idx.user_ids.is_empty());
        assert!(idx.user_names.is_empty() && idx.sessions.is_empty());
    }
}
