//! The `sse:id:{id}` record: ServiceStack.Text's JSON of `SubscriptionInfo` (PascalCase, nulls
//! left out, `CreatedAt` as `/Date(ms)/`), and the .NET-tick scores of `sse:ids`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::provider::SubRef;
use crate::registry::Subscription;

/// .NET ticks (100 ns since 0001-01-01) at the Unix epoch.
const UNIX_EPOCH_TICKS: u64 = 621_355_968_000_000_000;

/// The `sse:ids` score of a Unix time in milliseconds: a .NET `DateTime` tick count.
pub(crate) fn ticks(unix_ms: u64) -> f64 {
    (unix_ms
        .saturating_mul(10_000)
        .saturating_add(UNIX_EPOCH_TICKS)) as f64
}

/// One subscription as stored in Redis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Record {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) created_at: Option<String>,
    #[serde(default)]
    pub(crate) channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) session_id: Option<String>,
    pub(crate) subscription_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) user_address: Option<String>,
    #[serde(default)]
    pub(crate) is_authenticated: bool,
    #[serde(default)]
    pub(crate) meta: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) connect_args: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) server_args: BTreeMap<String, String>,
}

impl Record {
    /// The record of a local subscription.
    pub(crate) fn of(sub: &Arc<Subscription>) -> Record {
        let info = sub.info();
        Record {
            created_at: Some(format!("/Date({})/", info.created_at_ms)),
            channels: info.channels,
            user_id: Some(info.user_id),
            user_name: info.user_name,
            display_name: Some(info.display_name),
            session_id: info.session_id,
            subscription_id: info.id,
            user_address: info.user_address.map(|a| a.to_string()),
            is_authenticated: info.is_authenticated,
            meta: info.meta,
            connect_args: info.connect_args,
            server_args: info.server_args,
        }
    }

    /// Parses a stored record; `None` (logged) when it is not one.
    pub(crate) fn parse(key: &str, json: &[u8]) -> Option<Record> {
        match serde_json::from_slice::<Record>(json) {
            Ok(r) if !r.subscription_id.is_empty() => Some(r),
            Ok(_) => {
                tracing::warn!("{key}: record without a SubscriptionId, ignored");
                None
            }
            Err(e) => {
                tracing::warn!("{key}: not a SubscriptionInfo record ({e}), ignored");
                None
            }
        }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `CreatedAt` in Unix milliseconds (0 when missing or unreadable).
    pub(crate) fn created_ms(&self) -> i64 {
        self.created_at
            .as_deref()
            .and_then(|s| s.strip_prefix("/Date("))
            .and_then(|s| s.strip_suffix(")/"))
            // A C# `DateTime` with a kind other than UTC carries an offset: `/Date(ms+0100)/`.
            .map(|s| {
                s.split(['+', '-'])
                    .next()
                    .filter(|v| !v.is_empty())
                    .unwrap_or(s)
            })
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    pub(crate) fn meta_json(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(&self.meta).unwrap_or_else(|_| b"{}".to_vec()))
    }

    /// The route's view of a subscription held by another node.
    pub(crate) fn to_ref(&self) -> SubRef {
        SubRef {
            id: self.subscription_id.clone(),
            user_id: self.user_id.clone().unwrap_or_default(),
            display_name: self.display_name.clone().unwrap_or_default(),
            session_id: self.session_id.clone(),
            is_authenticated: self.is_authenticated,
            user_address: self
                .user_address
                .as_deref()
                .and_then(|a| a.parse::<IpAddr>().ok()),
            meta_json: self.meta_json(),
            local: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_match_dotnet() {
        // 2000-01-01T00:00:00Z is 630822816000000000 ticks.
        assert_eq!(ticks(946_684_800_000), 630_822_816_000_000_000.0);
    }

    #[test]
    fn reads_a_servicestack_record() {
        let json = r#"{"CreatedAt":"\/Date(1700000000000)\/","Channels":["home","*"],"UserId":"-3","DisplayName":"user3","SubscriptionId":"aZ3kQ9xT0bLm7Yc2Rw5P","UserAddress":"127.0.0.1","IsAuthenticated":false,"Meta":{"userId":"-3","channels":"home,*"},"ConnectArgs":{},"ServerArgs":{}}"#;
        let r = Record::parse("sse:id:x", json.as_bytes()).unwrap();
        assert_eq!(r.subscription_id, "aZ3kQ9xT0bLm7Yc2Rw5P");
        assert_eq!(r.channels, ["home", "*"]);
        assert_eq!(r.created_ms(), 1_700_000_000_000);
        assert_eq!(r.user_name, None);
        let sub = r.to_ref();
        assert_eq!(sub.user_address, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(sub.user_id, "-3");
        let written = r.to_json();
        assert!(written.contains(r#""SubscriptionId":"aZ3kQ9xT0bLm7Yc2Rw5P""#));
        assert!(
            !written.contains("UserName"),
            "nulls are left out: {written}"
        );
        assert_eq!(Record::parse("k", written.as_bytes()).unwrap(), r);
    }

    #[test]
    fn offsets_and_garbage() {
        let mut r = Record::parse(
            "k",
            br#"{"SubscriptionId":"x","CreatedAt":"/Date(5+0100)/"}"#,
        )
        .unwrap();
        assert_eq!(r.created_ms(), 5);
        r.created_at = Some("yesterday".into());
        assert_eq!(r.created_ms(), 0);
        assert!(Record::parse("k", b"not json").is_none());
        assert!(Record::parse("k", br#"{"SubscriptionId":""}"#).is_none());
        assert!(Record::parse("k", br#"[1,2]"#).is_none());
    }
}
