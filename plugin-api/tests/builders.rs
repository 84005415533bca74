//! Out-of-tree construction: this test is a crate of its own, as a vendor's
//! driver is, so it sees the protocol types exactly as a vendor does. The
//! protocol structs are `#[non_exhaustive]`: a struct literal would not compile
//! here (the `compile_fail` doctests of `src/protocol.rs` check that), so a field
//! added in a later 1.x release cannot break a vendor's build. Every message is
//! built with the public constructors and builders only, and must equal the
//! golden protocol-1 fixture it stands for (`fixtures/protocol1/*.json`): the
//! builders reach every value protocol 1 sends.

use std::time::Duration;

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, CommandOutput, CommandRequest, Error, ErrorKind,
    HostFeatures, KeywordSpec, KeywordType, Manifest, MessageLevel, OptionSpec, Problem,
    ResourceConfig, Status, StatusMessage, StatusReport,
};
use serde::de::DeserializeOwned;

fn fixture<T: DeserializeOwned>(name: &str) -> T {
    let path = format!(
        "{}/tests/fixtures/protocol1/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn a_manifest_built_with_builders_is_the_protocol1_manifest() {
    let mut built = Manifest::new("sync", "mirror", "0.3.1")
        .speaks(1, 1)
        .description("Mirror a directory")
        .keyword(
            KeywordSpec::new("source", KeywordType::String)
                .required()
                .desc("Directory to mirror."),
        )
        .keyword(
            KeywordSpec::new("mode", KeywordType::String)
                .default_value("fast")
                .candidates(&["fast", "safe"])
                .depends_on("source", &["/srv"])
                .not_scopable()
                .example("fast"),
        )
        .action(ActionSpec::standard("sync_update"))
        .action(ActionSpec::new("verify", "Compare.").read_only())
        .option(OptionSpec::new("since", "Resend since then.").actions(&["recover"]))
        .node_option(OptionSpec::new("bin", "Tool directory."))
        .call_timeout("status", Duration::from_secs(30));
    let golden: Manifest = fixture("manifest");
    // The fixture was written by plugin-api 1.0.0; a later 1.x writes its own.
    built.api_version = golden.api_version.clone();
    assert_eq!(built, golden);
}

#[test]
fn resource_config_and_action_request_built_with_builders_are_the_fixtures() {
    let config = ResourceConfig::new("svc1", "sync#0", "node1")
        .keyword("source", "/srv")
        .keyword("mode", "fast")
        .driver_option("bin", "/opt/mirror/bin")
        .state_dir("/var/lib/doppel/svc1/sync#0");
    assert_eq!(config, fixture::<ResourceConfig>("resource_config"));

    let request = ActionRequest::new("sync_update")
        .force()
        .option("since", "1h")
        .service_avail(Status::Up);
    assert_eq!(request, fixture::<ActionRequest>("action_request"));
    // The other flags, as a driver's unit test sets them.
    let dry = ActionRequest::new("sync_update").dry_run().scheduled();
    assert!(dry.dry_run && dry.scheduled && !dry.force);
}

#[test]
fn results_built_with_builders_are_the_fixtures() {
    assert_eq!(
        ActionOutcome::new().message("copied 3 files"),
        fixture::<ActionOutcome>("action_outcome")
    );
    let idle = ActionOutcome::nothing_to_do("already in sync");
    assert!(idle.noop);
    assert_eq!(
        ActionOutcome::new().messages(["a", "b"]).messages,
        ["a", "b"]
    );

    let report = StatusReport::new(Status::Warn)
        .warn("1/2 devices active")
        .message(MessageLevel::Info, "last copy 3m ago")
        .last_sync("2026-12-03T15:08:51Z");
    assert_eq!(report, fixture::<StatusReport>("status_report"));
    assert_eq!(
        report.messages[0],
        StatusMessage::new(MessageLevel::Warn, "1/2 devices active")
    );

    let problems = vec![
        Problem::keyword("source", "is not a directory"),
        Problem::resource("no target"),
    ];
    assert_eq!(problems, fixture::<Vec<Problem>>("problems"));

    // What `require` answers for a missing keyword is the protocol-1 error.
    let missing = ResourceConfig::new("svc1", "sync#0", "node1")
        .require("source")
        .unwrap_err();
    assert_eq!(missing, fixture::<Error>("error"));
    assert_eq!(
        Error::new(ErrorKind::Invalid, "sync#0: keyword 'source' is required"),
        missing
    );
}

#[test]
fn commands_built_with_builders_are_the_fixtures() {
    let request = CommandRequest::new(["/opt/mirror/bin/mirror", "--check", "/srv"])
        .env("LANG", "C")
        .timeout(Duration::from_secs(30))
        .read_only();
    assert_eq!(request, fixture::<CommandRequest>("command_request"));
    assert_eq!(
        CommandOutput::exited(0, "ok\n", ""),
        fixture::<CommandOutput>("command_output")
    );
    let skipped = CommandOutput::skipped();
    assert!(skipped.dry_run && skipped.success());
    let late = CommandOutput::timeout("", "waiting\n");
    assert!(late.timed_out && !late.success());
    let killed = CommandOutput::killed("", "");
    assert!(killed.exit_code.is_none() && !killed.timed_out && !killed.success());
}

#[test]
fn host_features_built_with_builders_are_the_fixture() {
    let built = HostFeatures::new(1, 1)
        .feature("features")
        .feature("now")
        .feature("dry_run")
        .feature("progress");
    assert_eq!(built, fixture::<HostFeatures>("host_features"));
}

#[test]
fn a_vendor_matches_error_kinds_with_a_fallback_arm() {
    // ErrorKind is #[non_exhaustive]: a later 1.x may add kinds.
    let describe = |e: &Error| match e.kind {
        ErrorKind::Cancelled => "cancelled",
        ErrorKind::Invalid => "invalid",
        _ => "failed",
    };
    assert_eq!(describe(&Error::cancelled()), "cancelled");
    assert_eq!(describe(&Error::failed("x")), "failed");
}
