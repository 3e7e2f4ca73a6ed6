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
    core_wait_for_next_message_command_and_heartbeat,
    core_wait_for_next_times_out,
    core_handlers_registered_and_removed_at_run_time,
    core_receivers_registered_and_removed_at_run_time,
    core_listeners_added_and_removed_at_run_time_and_remove_all,
    core_custom_meta_reaches_on_connect_and_on_join,
    core_notify_user_name_reaches_signed_in_clients_only,
    core_cluster_joins_leaves_and_subscriber_lists_span_nodes,
    core_cluster_channel_changes_through_another_node,
    core_cluster_chat_reaches_clients_on_every_node,
    core_cluster_unregister_through_another_node_then_reconnect,
    core_cluster_killed_node_client_reconnects_to_a_survivor,
    core_cluster_custom_meta_and_user_name_across_nodes,
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

/// The Java tests every upstream case list names (clients-ts-java.md §3.2).
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

/// Whether `origin` names C# case `n` as a whole label: `(§3.4 #n)` or `(§3.4 #n, ...)`, so
/// that `#1` is not satisfied by `#10`.
fn names_cs_case(origin: &str, n: u32) -> bool {
    let label = format!("(§3.4 #{n}");
    origin.match_indices(&label).any(|(at, _)| {
        matches!(
            origin[at + label.len()..].chars().next(),
            Some(')') | Some(',')
        )
    })
}

/// Whether `origin` names TS case `n` as a whole label: `TS #n ` followed by its title, or
/// `TS #n` at the end.
fn names_ts_case(origin: &str, n: u32) -> bool {
    let label = format!("TS #{n}");
    origin
        .strip_prefix(&label)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// Whether `origin` names the Java test `name` exactly (optionally followed by a remark).
fn names_java_test(origin: &str, name: &str) -> bool {
    origin
        .strip_prefix("Java ")
        .and_then(|rest| rest.strip_prefix(name))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// The upstream cases (C# §3.4 #1–#32, TS #1–#22, the Java tests) that no origin names.
fn missing_upstream_cases(file: &scenario::ScenarioFile) -> Vec<String> {
    let origins: Vec<&str> = file
        .scenarios
        .iter()
        .flat_map(|s| s.origins.iter().map(String::as_str))
        .collect();
    let mut missing = Vec::new();
    for n in 1..=32 {
        if !origins.iter().any(|o| names_cs_case(o, n)) {
            missing.push(format!("C# (§3.4 #{n})"));
        }
    }
    for n in 1..=22 {
        if !origins.iter().any(|o| names_ts_case(o, n)) {
            missing.push(format!("TS #{n}"));
        }
    }
    for name in JAVA {
        if !origins.iter().any(|o| names_java_test(o, name)) {
            missing.push(format!("Java {name}"));
        }
    }
    missing
}

/// Every upstream case is ported: each C# case (§3.4 #1–#32), TS case (#1–#22) and Java test is
/// named in the `origins` of some scenario.
#[test]
fn every_upstream_case_has_a_scenario() {
    let file = scenario::load().unwrap_or_else(|e| panic!("{e}"));
    let missing = missing_upstream_cases(&file);
    assert!(
        missing.is_empty(),
        "upstream cases without a scenario: {missing:?}"
    );
}

/// The bookkeeping above notices a case that is gone: removing the scenario of C# #1 (whose
/// label `#1` is a prefix of `#10`-`#19`), of TS #1, or of a Java test is reported, and only
/// that case.
#[test]
fn the_upstream_bookkeeping_notices_a_removed_case() {
    let without = |scenario_name: &str| {
        let mut file = scenario::load().unwrap_or_else(|e| panic!("{e}"));
        let before = file.scenarios.len();
        file.scenarios.retain(|s| s.name != scenario_name);
        assert_eq!(file.scenarios.len(), before - 1, "{scenario_name} exists");
        missing_upstream_cases(&file)
    };
    assert_eq!(
        without("cs_can_connect_to_server_events_stream"),
        [
            "C# (§3.4 #1)",
            "TS #1",
            "Java test_Can_connect_to_ServerEventsStream"
        ]
    );
    assert_eq!(
        without("cs_does_fire_on_join_events"),
        ["C# (§3.4 #2)", "TS #2", "Java test_Does_fire_onJoin_events"]
    );
    assert_eq!(
        without("cs_does_send_multiple_heartbeats"),
        ["C# (§3.4 #7)"]
    );
    assert_eq!(without("ts_does_send_string_to_handler"), ["TS #9"]);
}

#[test]
fn whole_labels_are_matched() {
    assert!(names_cs_case("C# X (§3.4 #1)", 1));
    assert!(names_cs_case("C# X (§3.4 #4, [Ignore] upstream)", 4));
    assert!(!names_cs_case("C# X (§3.4 #10)", 1));
    assert!(!names_cs_case("C# X (§3.4 #21)", 2));
    assert!(names_ts_case("TS #2 Does fire onJoin events", 2));
    assert!(!names_ts_case("TS #20 Does fire multiple listeners", 2));
    assert!(names_java_test(
        "Java test_Does_send_message_to_Handler (adds the paint handler)",
        "test_Does_send_message_to_Handler"
    ));
    assert!(!names_java_test(
        "Java test_Does_fire_onJoin_events_for_multiple_Channels",
        "test_Does_fire_onJoin_events"
    ));
}
