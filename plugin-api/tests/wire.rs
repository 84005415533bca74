//! Golden wire tests: `fixtures/protocol1/*.json` are the messages as protocol 1
//! sends them. Never edit a fixture to make a test pass: a failure here means a
//! change would break drivers or hosts already deployed.
//!
//! For each message: today's code reads the fixture (with and without fields a
//! newer peer adds), and what today's code writes back contains every field of
//! the fixture with the same value, so an older peer, which may require any of
//! them, reads it.

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, CommandOutput, CommandRequest, Error, HostFeatures, KeywordType,
    Manifest, MessageLevel, Problem, ResourceConfig, Status, StatusReport, negotiate,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/protocol1/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every field of `old` is in `new` with the same value (objects recursively,
/// arrays element by element).
fn contains(old: &Value, new: &Value, at: &str) -> Result<(), String> {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (key, value) in o {
                let Some(written) = n.get(key) else {
                    return Err(format!("{at}.{key}: missing from what is written now"));
                };
                contains(value, written, &format!("{at}.{key}"))?;
            }
            Ok(())
        }
        (Value::Array(o), Value::Array(n)) if o.len() == n.len() => o
            .iter()
            .zip(n)
            .enumerate()
            .try_for_each(|(i, (a, b))| contains(a, b, &format!("{at}[{i}]"))),
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => Ok(()),
        (a, b) if a == b => Ok(()),
        (a, b) => Err(format!("{at}: protocol 1 sent {a}, now written as {b}")),
    }
}

/// Reads fixture `name` as `T`, checks the round trip and a newer peer's extra field.
fn golden<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str) -> T {
    let text = fixture(name);
    let read: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let written = serde_json::to_value(&read).expect("serialize");
    let old: Value = serde_json::from_str(&text).expect("fixture is JSON");
    if let Err(why) = contains(&old, &written, name) {
        panic!("{why}");
    }
    // What a newer peer sends: the same message with fields added later.
    if let Value::Object(mut map) = old {
        map.insert("added_by_protocol_9".into(), Value::from(42));
        let newer: T = serde_json::from_value(Value::Object(map))
            .unwrap_or_else(|e| panic!("{name} with a newer peer's field: {e}"));
        assert_eq!(newer, read, "{name}: an unknown field changed what is read");
    }
    read
}

#[test]
fn manifest_of_protocol_1_reads_and_writes_back() {
    let m: Manifest = golden("manifest");
    assert_eq!(m.type_name(), "sync.mirror");
    assert_eq!(
        m.keywords[1].candidates.as_deref(),
        Some(&["fast".to_owned(), "safe".to_owned()][..])
    );
    assert!(!m.actions[1].state_changing);
    assert_eq!(m.call_timeouts["status"], 30);
    // Written before negotiation existed: the driver speaks exactly protocol 1.
    assert_eq!(m.protocol_range(), (1, 1));
}

#[test]
fn the_oldest_manifest_reads_with_documented_defaults() {
    let m: Manifest = golden("manifest_oldest");
    assert_eq!((m.protocol, m.protocol_range()), (1, (1, 1)));
    assert_eq!((m.options, m.node_options), (None, None));
    assert!(m.keywords.is_empty() && m.actions.is_empty() && m.call_timeouts.is_empty());
    assert!(
        !m.reentrant,
        "a driver built before `reentrant` is asked one call at a time"
    );
}

#[test]
fn resource_config_of_protocol_1() {
    let c: ResourceConfig = golden("resource_config");
    assert_eq!(c.option("bin"), Some("/opt/mirror/bin"));
    assert_eq!(c.get("mode"), Some("fast"));
}

#[test]
fn action_request_and_outcome_of_protocol_1() {
    let r: ActionRequest = golden("action_request");
    assert_eq!(
        (r.action.as_str(), r.force, r.service_avail),
        ("sync_update", true, Some(Status::Up))
    );
    let o: ActionOutcome = golden("action_outcome");
    assert_eq!(o.messages, ["copied 3 files"]);
}

#[test]
fn status_report_of_protocol_1() {
    let s: StatusReport = golden("status_report");
    assert_eq!(s.state, Status::Warn);
    assert_eq!(s.messages[0].level, MessageLevel::Warn);
}

#[test]
fn command_request_and_output_of_protocol_1() {
    let r: CommandRequest = golden("command_request");
    assert!(r.read_only && r.quiet && !r.stream);
    assert_eq!(r.timeout_secs, Some(30.0));
    let o: CommandOutput = golden("command_output");
    assert!(o.success());
}

#[test]
fn problems_errors_and_features_of_protocol_1() {
    let p: Vec<Problem> = serde_json::from_str(&fixture("problems")).expect("problems");
    assert_eq!(p[0].to_string(), "source: is not a directory");
    let written = serde_json::to_value(&p).expect("json");
    contains(
        &serde_json::from_str(&fixture("problems")).unwrap(),
        &written,
        "problems",
    )
    .unwrap();
    let e: Error = golden("error");
    assert_eq!(e, Error::from_wire(&fixture("error")));
    let f: HostFeatures = golden("host_features");
    assert_eq!(
        f,
        HostFeatures::current(),
        "a protocol-1 host announces this"
    );
}

#[test]
fn values_a_newer_peer_adds_read_as_documented_fallbacks() {
    let kw: KeywordType = serde_json::from_str(r#""ipv6_prefix""#).expect("unknown type");
    assert_eq!(kw, KeywordType::String);
    let st: Status = serde_json::from_str(r#""degraded""#).expect("unknown status");
    assert_eq!(st, Status::Undef);
    let lv: MessageLevel = serde_json::from_str(r#""notice""#).expect("unknown level");
    assert_eq!(lv, MessageLevel::Info);
    assert_eq!(
        doppel_plugin_api::Level::from_u8(9),
        doppel_plugin_api::Level::Info
    );
    // A whole manifest with a new keyword type still loads.
    let text = fixture("manifest").replacen(r#""type":"string""#, r#""type":"ipv6_prefix""#, 1);
    let m: Manifest = serde_json::from_str(&text).expect("manifest with a newer type");
    assert_eq!(m.keywords[0].kind, KeywordType::String);
    // The known spellings are unchanged.
    for (text, status) in [
        ("\"up\"", Status::Up),
        ("\"n/a\"", Status::NotApplicable),
        ("\"undef\"", Status::Undef),
        ("\"stdby down\"", Status::StdbyDown),
    ] {
        assert_eq!(serde_json::from_str::<Status>(text).unwrap(), status);
        assert_eq!(serde_json::to_string(&status).unwrap(), text);
    }
    assert_eq!(
        serde_json::to_string(&KeywordType::String).unwrap(),
        "\"string\""
    );
    assert_eq!(
        serde_json::to_string(&MessageLevel::Info).unwrap(),
        "\"info\""
    );
}

/// Every cell of the compatibility table in README.md ("Protocol negotiation").
#[test]
fn negotiation_table() {
    // (host range, driver range, protocol used or None = driver skipped)
    let table = [
        ((1, 1), (1, 1), Some(1)), // today's host, today's (or any older) driver
        ((1, 2), (1, 1), Some(1)), // newer host, older driver: host speaks down
        ((1, 1), (1, 2), Some(1)), // older host, newer driver: driver speaks down
        ((1, 2), (1, 2), Some(2)), // both newer: the newer protocol
        ((1, 3), (2, 2), Some(2)),
        ((2, 3), (1, 1), None), // host dropped protocol 1: old driver skipped
        ((1, 1), (2, 3), None), // driver dropped protocol 1: "upgrade doppel"
    ];
    for (host, driver, used) in table {
        assert_eq!(
            negotiate(host, driver),
            used,
            "host {host:?} driver {driver:?}"
        );
    }
    // A driver built with this crate and a host that predates `features`.
    let old_host = HostFeatures::protocol1();
    assert_eq!(old_host.negotiated(), Some(1));
    assert!(!old_host.has("now"));
    // A driver announcing 1..=1 (old, or built now).
    let now = Manifest::new("sync", "x", "1.0.0");
    assert_eq!(now.protocol_range(), (1, 1));
}
