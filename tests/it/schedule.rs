//! `doppel schedule check`: a table of expression / now / last cases through the
//! binary, time parsing (Z, offsets, local time), and the JSON shape.

use doppel_e2e::{TestContext, run};

/// POSIX TZ for Paris (no tzdata needed): UTC+1, UTC+2 in summer.
const PARIS: &str = "CET-1CEST,M3.5.0,M10.5.0/3";

struct Case {
    expr: &'static str,
    now: Option<&'static str>,
    last: Option<&'static str>,
    tz: &'static str,
}

const fn case(expr: &'static str, now: &'static str, last: Option<&'static str>) -> Case {
    Case {
        expr,
        now: Some(now),
        last,
        tz: "UTC",
    }
}

fn check(ctx: &TestContext, c: &Case, json: bool) -> (i32, String, String) {
    let mut args = vec!["schedule", "check", c.expr];
    if let Some(n) = c.now {
        args.extend(["--now", n]);
    }
    if let Some(l) = c.last {
        args.extend(["--last", l]);
    }
    if json {
        args.extend(["--format", "json"]);
    }
    let mut cmd = ctx.doppel(&args);
    cmd.env("TZ", c.tz);
    run(&mut cmd)
}

#[test]
fn schedule_check_table() {
    let ctx = TestContext::new();
    let cases = [
        // 2024-05-03 is a Friday.
        case("04:00-06:00@121 mon-fri", "2024-05-03T04:30:00Z", None),
        case(
            "04:00-06:00@121 mon-fri",
            "2024-05-03T04:30:00Z",
            Some("2024-05-03T04:30:00Z"),
        ),
        case("04:00-06:00@121 mon-fri", "2024-05-04T04:30:00Z", None),
        case("@10", "2024-05-03T12:00:00Z", Some("2024-05-03T11:55:00Z")),
        case(
            "*@30s",
            "2024-05-03T12:00:00Z",
            Some("2024-05-03T12:00:00Z"),
        ),
        case("23:00-01:00", "2024-05-03T00:30:00Z", None),
        case("23:00-01:00", "2024-05-03T12:00:00Z", None),
        case("09:00", "2024-05-03T08:00:00Z", None),
        case("* sat:last", "2024-08-24T12:00:00Z", None),
        case("* sat:last", "2024-08-31T12:00:00Z", None),
        case("* :-2", "2024-02-01T00:00:00Z", None),
        case("* * 1-10", "2024-05-03T12:00:00Z", None),
        case("* * * %2+1", "2024-04-10T12:00:00Z", None),
        case("* * * nov-feb", "2024-12-15T12:00:00Z", None),
        case(
            r#"["06:00-07:00@1h *:1,-1", "! * * * feb"]"#,
            "2024-02-01T06:30:00Z",
            None,
        ),
        case("!12:00-14:00", "2024-05-03T12:00:00Z", None),
        case("~00:00-06:00", "2024-05-03T00:00:00Z", None),
        case("* :0", "2024-05-03T00:00:00Z", None),
        case("@0", "2024-05-03T12:00:00Z", None),
        case("*@0", "2024-05-03T12:00:00Z", None),
        case("", "2024-05-03T12:00:00Z", None),
        // Offsets are taken as given: 05:00 at +02:00 is in 04:00-06:00.
        case("04:00-06:00", "2024-05-03T05:00:00+02:00", None),
        case("04:00-06:00", "2024-05-03T05:00:00Z", None),
        // Without an offset: local time (TZ).
        Case {
            expr: "04:00-06:00",
            now: Some("2024-05-03T05:00:00"),
            last: None,
            tz: PARIS,
        },
        Case {
            expr: "04:00-06:00",
            now: Some("2024-01-03T05:00:00"),
            last: None,
            tz: PARIS,
        },
        // Invalid expressions and arguments.
        case("* mox", "2024-05-03T12:00:00Z", None),
        case("25:00-26:00", "2024-05-03T12:00:00Z", None),
        case("04:00-06:00@", "2024-05-03T12:00:00Z", None),
        case("[\"@10\"", "2024-05-03T12:00:00Z", None),
        case("@10", "yesterday", None),
        case("@10", "2024-05-03T12:00:00Z", Some("2024-13-03T12:00:00Z")),
    ];
    let mut report = String::new();
    for c in &cases {
        let (code, stdout, stderr) = check(&ctx, c, false);
        let mut title = format!("{:?}", c.expr);
        if let Some(n) = c.now {
            title.push_str(&format!(" --now {n}"));
        }
        if let Some(l) = c.last {
            title.push_str(&format!(" --last {l}"));
        }
        if c.tz != "UTC" {
            title.push_str(" (TZ Paris)");
        }
        report.push_str(&format!("{title}\n  exit {code}\n"));
        for l in stdout.lines() {
            report.push_str(&format!("  {l}\n"));
        }
        for l in stderr.lines() {
            report.push_str(&format!("  stderr: {l}\n"));
        }
        assert_eq!(
            code == 2,
            stdout.is_empty(),
            "{title}: exit 2 exactly when nothing is printed: {stdout}{stderr}"
        );
    }
    insta::with_settings!({prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("schedule_check_table", report);
    });
}

#[test]
fn schedule_check_json_shape() {
    let ctx = TestContext::new();
    let parse = |c: &Case| {
        let (code, stdout, stderr) = check(&ctx, c, true);
        let doc: serde_json::Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        (code, doc, stderr)
    };
    let keys =
        |doc: &serde_json::Value| doc.as_object().unwrap().keys().cloned().collect::<Vec<_>>();

    let (code, doc, _) = parse(&case(
        "04:00-06:00@121 mon-fri",
        "2024-05-03T04:30:00Z",
        Some("2024-05-03T04:30:00Z"),
    ));
    assert_eq!(code, 0);
    assert_eq!(
        doc,
        serde_json::json!({"valid": true, "allowed": false, "reason": "last run too recent (interval 121m)", "next": "2024-05-06T04:00:00Z"})
    );
    let mut k = keys(&doc);
    k.sort();
    assert_eq!(k, ["allowed", "next", "reason", "valid"]);

    let (code, doc, _) = parse(&case("04:00-06:00", "2024-05-03T05:00:00+02:00", None));
    assert_eq!(code, 0);
    assert_eq!(
        doc,
        serde_json::json!({"valid": true, "allowed": true, "reason": null, "next": "2024-05-03T03:00:00Z"})
    );

    for never in ["", "@0", "*@0"] {
        let (code, doc, _) = parse(&case(never, "2024-05-03T05:00:00Z", None));
        assert_eq!(code, 0);
        assert_eq!(doc["next"], serde_json::Value::Null, "{never:?}");
        assert_eq!(doc["allowed"], false);
        assert!(doc["reason"].is_string());
    }

    let (code, doc, stderr) = parse(&case("* mox", "2024-05-03T05:00:00Z", None));
    assert_eq!(code, 2);
    assert_eq!(
        doc,
        serde_json::json!({"valid": false, "error": "schedule \"* mox\": at 3: unknown day \"mox\""})
    );
    assert_eq!(
        stderr,
        "doppel: schedule \"* mox\": at 3: unknown day \"mox\"\n"
    );
}

#[test]
fn schedule_check_defaults_to_now() {
    let ctx = TestContext::new();
    let (code, stdout, stderr) = run(&mut ctx.doppel(["schedule", "check", "*"]));
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "allowed: yes");
    let next = lines[1].strip_prefix("next: ").expect(&stdout);
    assert!(
        next.ends_with('Z') && next.len() == "2024-05-03T04:30:00Z".len(),
        "{next}"
    );
}
