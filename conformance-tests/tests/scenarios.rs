//! One test per scenario of `scenarios/scenarios.json` whose legs include `rust`, each against
//! its own fresh server. The list below must equal the file's Rust-leg scenarios (checked by
//! `macro_list_matches_the_rust_leg_scenarios`), so nothing is skipped silently.

use std::collections::BTreeSet;

use conformance_tests::scenario::{self, Leg};

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Err(failure) = conformance_tests::run_scenario(stringify!($name)).await {
                    panic!("{failure}");
                }
            }
        )*

        /// The names the macro generated tests for.
        const NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

scenarios! {
    cs_can_connect_to_server_events_stream,
    cs_does_fire_on_join_events,
    cs_does_fire_on_join_events_for_multiple_channels,
    cs_does_not_fire_unobserved_task_exception,
    cs_does_fire_all_callbacks,
    cs_does_receive_messages,
    cs_does_send_multiple_heartbeats,
    cs_get_string_from_url_does_throw_error,
    cs_does_reconnect_on_lost_connection,
    cs_does_send_message_to_handler,
    cs_does_send_message_to_named_receiver,
    cs_does_send_message_to_global_receiver,
    cs_does_set_properties_on_global_receiver,
    cs_does_send_raw_string_messages,
    cs_can_reuse_same_instance,
    cs_can_use_ioc_to_autowire_receivers,
    cs_does_receive_messages_on_to_clients_subscribed_on_multiple_channels,
    cs_does_receive_all_join_and_leave_messages,
    cs_multi_channel_does_receive_all_join_and_leave_messages,
    cs_can_subscribe_to_channels_whilst_connected,
    cs_can_unsubscribe_from_channels_whilst_connected,
    cs_does_fire_multiple_listeners_for_custom_trigger,
    cs_can_consume_messages_in_async_handler_with_blocking_collection,
    cs_only_allows_one_thread_through_at_a_time,
    cs_unauthenticated_user_throws_unauthorized,
    cs_can_send_and_receive_messages_with_authenticated_user,
    cs_channels_updated_after_restart,
    cs_auth_does_send_multiple_heartbeats,
    cs_does_clean_up_sse_id_subscriptions_regardless_of_config,
    cs_does_reconnect_when_remote_app_server_restarts,
    cs_does_dispose_sse_connection_when_exception_in_on_init_handler,
    cs_can_subscribe_to_channels,
    ts_does_send_multiple_heartbeats,
    ts_does_send_string_to_handler,
    ts_does_raise_error_messages,
    fault_heartbeat_404_after_reset,
    fault_500_on_reconnect,
    fault_401_stops_without_retrying,
    fault_cut_mid_frame,
    fault_stalled_stream_reports_missing_on_connect,
    fault_foreign_connect_urls_are_rebased,
    fault_html_answer_is_refused,
    fault_malformed_frames,
    fault_oversized_frame,
    fault_invalid_utf8_frame,
    fault_panicking_handler,
    core_reconnect_unregisters_superseded_subscription,
    core_pause_unregisters_and_resume_reconnects,
    core_state_changes_follow_the_connection,
    core_channel_changes_survive_reconnect,
    core_idle_timeout_reconnects_after_silence,
}

#[test]
fn macro_list_matches_the_rust_leg_scenarios() {
    let file = scenario::load().unwrap_or_else(|e| panic!("{e}"));
    let in_file: BTreeSet<&str> = file
        .scenarios
        .iter()
        .filter(|s| s.runs_on(Leg::Rust))
        .map(|s| s.name.as_str())
        .collect();
    let in_macro: BTreeSet<&str> = NAMES.iter().copied().collect();
    assert_eq!(
        NAMES.len(),
        in_macro.len(),
        "a name is listed twice in the macro"
    );
    let missing: Vec<_> = in_file.difference(&in_macro).collect();
    let extra: Vec<_> = in_macro.difference(&in_file).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "scenarios.json and tests/scenarios.rs disagree: not in the macro {missing:?}, not rust-leg scenarios in the file {extra:?}"
    );
}

/// Every upstream case is ported: each C# case (§3.4 #1–#32), TS case (#1–#22) and Java test is
/// named in the `origins` of some scenario.
#[test]
fn every_upstream_case_has_a_scenario() {
    const JAVA: [&str; 20] = [
        "test_Can_connect_to_ServerEventsStream",
        "test_Does_fire_onJoin_events",
        "test_Does_fire_onJoin_events_for_multiple_Channels",
        "test_Does_fire_all_callbacks",
        "test_Does_receive_messages",
        "test_Does_send_multiple_heartbeats",
        "test_Does_reconnect_on_lost_connection",
        "test_Does_send_message_to_Handler",
        "test_Does_send_message_to_named_receiver",
        "test_Does_send_message_to_global_receiver",
        "test_Does_set_properties_on_global_receiver",
        "test_Does_send_raw_string_messages",
        "test_Can_reuse_same_instance",
        "test_Can_use_IOC_to_autowire_Receivers",
        "test_Does_receive_messages_on_to_clients_subscribed_on_multiple_channels",
        "test_Does_receive_all_join_and_leave_messages",
        "test_MultiChannel_Does_receive_all_join_and_leave_messages",
        "test_Can_subscribe_to_channels_whilst_connected",
        "test_Can_unsubscribe_from_channels_whilst_connected",
        "test_Does_fire_multiple_listeners_for_custom_trigger",
    ];
    let file = scenario::load().unwrap_or_else(|e| panic!("{e}"));
    let origins: Vec<&str> = file
        .scenarios
        .iter()
        .flat_map(|s| s.origins.iter().map(String::as_str))
        .collect();
    let has = |needle: &str| origins.iter().any(|o| o.contains(needle));
    let mut missing = Vec::new();
    for n in 1..=32 {
        let needle = format!("(§3.4 #{n}");
        if !has(&needle) {
            missing.push(format!("C# {needle}"));
        }
    }
    for n in 1..=22 {
        let needle = format!("TS #{n} ");
        if !has(&needle) {
            missing.push(needle);
        }
    }
    for name in JAVA {
        let exact = format!("Java {name}");
        if !origins
            .iter()
            .any(|o| *o == exact || o.starts_with(&format!("{exact} ")))
        {
            missing.push(format!("Java {name}"));
        }
    }
    assert!(
        missing.is_empty(),
        "upstream cases without a scenario: {missing:?}"
    );
}
