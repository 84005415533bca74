//! Service configuration through the binary: `validate` over a corpus of broken
//! files (one rule each, and one file breaking them all), `template`, and
//! `print config` (as written, and resolved with `--eval`: scopes, references,
//! DEFAULT inheritance, cycles).
//!
//! The loaded drivers have no required keyword, so the "missing required keyword"
//! rule is covered by doppel-core's unit tests only.

use doppel_e2e::{TestContext, doppel_snapshot, run};

/// A root whose node is `n1`.
fn node_n1() -> TestContext {
    let ctx = TestContext::new();
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    ctx
}

/// Snapshot `text` with the context's path filters only (durations such as
/// `60s` and times stay as they are).
fn snapshot_text(ctx: &TestContext, name: &str, text: &str) {
    let filters: Vec<(String, String)> = ctx
        .filters()
        .into_iter()
        .filter(|(_, to)| to != "[DURATION]" && to != "[TIME]")
        .collect();
    let filters: Vec<(&str, &str)> = filters
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    insta::with_settings!({filters => filters, prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

/// Every rule broken once, in one file.
const BROKEN: &str = "\
[DEFAULT]
nodes = n1 n2
lock_timout = 30s

[sync#0]
type = test
initial = sideways
duration = soon
disable = perhaps
always_on@n1 = nodes
tagz = a
bad = x

[sync#1]
type = nope

[fs#1]
type = test
start_depends = fs#9
stop_depends = fs#1
provision_depends = fs1(up)
command = echo {nowhere}
command = twice

[app#1]
type = test
start_depends = app#2

[app#2]
type = test
start_depends = app#1

[bogus]
x = 1
";

#[test]
fn validate_reports_every_problem_at_once() {
    let ctx = node_n1();
    ctx.service("broken", BROKEN);
    doppel_snapshot!(
        ctx,
        "config_validate_broken",
        ctx.doppel(["-s", "broken", "validate"])
    );

    let (code, text, _) = run(&mut ctx.doppel(["-s", "broken", "validate"]));
    assert_eq!(code, 2);
    let (code, json, stderr) =
        run(&mut ctx.doppel(["-s", "broken", "validate", "--format", "json"]));
    assert_eq!(code, 2, "{stderr}");
    let doc: serde_json::Value =
        serde_json::from_str(&json).expect("validate --format json is JSON");
    let list = doc.as_array().expect("a list");
    assert_eq!(
        list.len(),
        text.lines().count(),
        "same content in text and JSON:\n{text}\n{json}"
    );
    for (item, line) in list.iter().zip(text.lines()) {
        let keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for k in ["service", "file", "line", "section", "keyword", "message"] {
            assert!(keys.contains(&k), "{k} missing from {item}");
        }
        assert_eq!(item["service"], "broken");
        assert!(item["line"].is_u64(), "{item}");
        // The text line is exactly the JSON fields put together.
        let section_kw = match item["keyword"].as_str() {
            Some(k) => format!("{}.{k}", item["section"].as_str().unwrap_or("")),
            None => item["section"].as_str().unwrap_or("").to_owned(),
        };
        let rebuilt = if section_kw.is_empty() {
            format!(
                "{}:{}: {}",
                item["file"].as_str().unwrap(),
                item["line"],
                item["message"].as_str().unwrap()
            )
        } else {
            format!(
                "{}:{}: {section_kw}: {}",
                item["file"].as_str().unwrap(),
                item["line"],
                item["message"].as_str().unwrap()
            )
        };
        assert_eq!(rebuilt, line);
    }
    // Sorted by line.
    let lines: Vec<u64> = list.iter().map(|i| i["line"].as_u64().unwrap()).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
}

/// One service per rule: each reports its problem (and only it).
#[test]
fn validate_rule_by_rule() {
    let ctx = node_n1();
    let cases: &[(&str, &str)] = &[
        ("unknown_keyword", "[sync#0]\ntype = test\ninital = up\n"),
        (
            "unknown_keyword_far",
            "[sync#0]\ntype = test\nzzzzzz = up\n",
        ),
        ("unknown_default_keyword", "[DEFAULT]\nlock_timout = 30s\n"),
        ("candidates", "[sync#0]\ntype = test\ninitial = sideways\n"),
        ("bad_duration", "[sync#0]\ntype = test\nduration = soon\n"),
        ("bad_boolean", "[fs#0]\ntype = test\ndisable = perhaps\n"),
        ("bad_integer", "[fs#0]\ntype = test\nrestart = twice\n"),
        (
            "bad_duration_minutes",
            "[sync#0]\ntype = test\nsync_max_delay = often\n",
        ),
        (
            "not_scopable",
            "[fs#0]\ntype = test\nalways_on@n1 = nodes\n",
        ),
        ("unknown_type", "[sync#0]\ntype = tset\n"),
        ("missing_type", "[fs#0]\ninitial = up\n"),
        (
            "malformed_rid",
            "[fs#0]\ntype = test\nstart_depends = fs0\n",
        ),
        (
            "malformed_state",
            "[fs#0]\ntype = test\n\n[fs#1]\ntype = test\nstart_depends = fs#0(sideways)\n",
        ),
        (
            "unknown_rid",
            "[fs#0]\ntype = test\n\n[fs#1]\ntype = test\nstart_depends = fs#2\n",
        ),
        (
            "self_dependency",
            "[fs#0]\ntype = test\nstop_requires = fs#0(down)\n",
        ),
        (
            "cycle",
            "[fs#0]\ntype = test\nstart_depends = fs#2\n\n[fs#1]\ntype = test\nstart_depends = fs#0\n\n[fs#2]\ntype = test\nstart_depends = fs#1\n",
        ),
        (
            "unresolved_reference",
            "[app#0]\ntype = test\ncommand = echo {sync#0.command}\n",
        ),
        (
            "reference_cycle",
            "[app#0]\ntype = test\ncommand = {query}\nquery = {command}\n",
        ),
        (
            "duplicate_key",
            "[fs#0]\ntype = test\ncommand = one\ncommand = two\n",
        ),
        ("driver_validation", "[sync#0]\ntype = test\nbad = x\n"),
        ("unknown_section", "[bogus]\nx = 1\n"),
    ];
    let mut report = String::new();
    for (name, text) in cases {
        ctx.service(name, text);
        let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", name, "validate"]));
        assert_eq!(code, 2, "{name}: {stdout}{stderr}");
        assert!(!stdout.is_empty(), "{name}: no diagnostic");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{name}: one summary line: {stderr}"
        );
        report.push_str(&format!("== {name}\n{stdout}"));
    }
    snapshot_text(&ctx, "config_validate_rules", &report);
}

#[test]
fn validate_ok_and_several_services() {
    let ctx = node_n1();
    ctx.service(
        "good",
        "[DEFAULT]\nnodes = n1\n\n[sync#0]\ntype = test\nschedule = @60\n\n[app#0]\ntype = script\nstart = /bin/true\n",
    );
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "good", "validate"]));
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "good: ok\n", "")
    );
    let (code, stdout, _) = run(&mut ctx.doppel(["-s", "good", "validate", "--format", "json"]));
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap(),
        serde_json::json!([])
    );

    ctx.service("bad", "[fs#0]\ntype = test\ndisable = perhaps\n");
    ctx.service(
        "worse",
        "[fs#0]\ntype = nope\n\n[fs#1]\ntype = test\nstart_depends = fs#7\n",
    );
    doppel_snapshot!(
        ctx,
        "config_validate_glob",
        ctx.doppel(["-s", "*", "validate"])
    );
    let (code, stdout, _) =
        run(&mut ctx.doppel(["-s", "good,bad", "validate", "--format", "json"]));
    assert_eq!(code, 2);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 1);
    assert_eq!(doc[0]["service"], "bad");
    assert_eq!(doc[0]["line"], 3);

    let (code, _, stderr) = run(&mut ctx.doppel(["validate"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("-s <name"), "{stderr}");
    let (code, _, stderr) = run(&mut ctx.doppel(["-s", "goood", "validate"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("did you mean good?"), "{stderr}");
}

#[test]
fn template_of_the_test_driver() {
    let ctx = TestContext::new();
    doppel_snapshot!(
        ctx,
        "config_template_sync_test",
        ctx.doppel(["template", "sync.test"])
    );
    let (code, stdout, _) = run(&mut ctx.doppel(["template", "app.script"]));
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with(&format!("{}\n", "#".repeat(78))),
        "{stdout}"
    );
    assert!(stdout.contains("[app#0]\n;type = script\n"), "{stdout}");
    assert!(
        stdout.lines().all(|l| l.chars().count() <= 78),
        "lines fit in 78 columns"
    );

    let (code, stdout, stderr) = run(&mut ctx.doppel(["template", "sync.nope"]));
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.starts_with("doppel: no driver sync.nope is installed (installed: "),
        "{stderr}"
    );
    assert!(stderr.contains("sync.test"), "{stderr}");
}

/// Scopes, references, DEFAULT inheritance and reference cycles, resolved for n1.
const RESOLUTION: &str = "\
# resolution cases for node n1
[DEFAULT]
nodes = n1 n2
drpnodes = n3
sync_max_delay = 2h
comment = {svcname} on {nodename}

[env]
site = paris
owner = nobody

[sync#0]
type = test
command = plain
command@nodes = for-nodes
command@n1 = for-n1
command@drpnodes = for-drp
record = /var/tmp/{svcname}/{rid}-{rindex}.log

[sync#1]
type = test
command = plain
command@nodes = for-nodes
command@n2 = for-n2
sync_max_delay = 30

[sync#2]
type = test
command = plain
command@drpnodes = for-drp
query = echo {env.site} {env.owner}
sync_update_requires = sync#0(up) sync#1

[app#0]
type = test
command = start {sync#0.record} on {nodename}
query = check {command}
fail = {comment}

[app#1]
type = test
command = {app#1.query}
query = {command}

[subset#sync:g1]
parallel = true

[subset#app]
";

#[test]
fn print_config_eval_resolves_for_this_node() {
    let mut ctx = node_n1();
    ctx.service("res", RESOLUTION);
    // An environment variable of the upper-cased name beats [env].
    ctx.env("OWNER", "alice");
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "res", "print", "config", "--eval"]));
    assert_eq!(code, 0, "{stderr}");
    snapshot_text(
        &ctx,
        "config_eval_n1",
        &format!("----- stdout -----\n{stdout}----- stderr -----\n{stderr}"),
    );

    // On a DRP node, kw@drpnodes applies.
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n3\"\n");
    let (code, stdout, _) = run(&mut ctx.doppel(["-s", "res", "print", "config", "--eval"]));
    assert_eq!(code, 0);
    let line = |prefix: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {stdout}"))
            .to_owned()
    };
    assert!(
        line("sync#0.command = for-drp ").ends_with(":17 (command@drpnodes)"),
        "{stdout}"
    );
    assert!(
        line("sync#1.command = plain ").ends_with(":22 (command)"),
        "{stdout}"
    );
    assert!(
        line("sync#2.command = for-drp ").ends_with(":30 (command@drpnodes)"),
        "{stdout}"
    );
    assert!(
        line("DEFAULT.comment = res on n3 ").contains("(comment)"),
        "{stdout}"
    );
    // [env] as references see it; the environment variable wins and says so.
    assert!(line("env.site = paris ").ends_with(":9 (site)"), "{stdout}");
    assert!(
        line("env.owner = alice ").ends_with("# environment variable OWNER"),
        "{stdout}"
    );
    assert!(
        line("subset#sync:g1.parallel = true ").ends_with(":46 (parallel)"),
        "{stdout}"
    );
    assert!(
        line("subset#app.parallel = False ").ends_with("# default"),
        "{stdout}"
    );
}

#[test]
fn print_config_eval_json() {
    let mut ctx = node_n1();
    ctx.service("res", RESOLUTION);
    ctx.env("OWNER", "alice");
    let (code, stdout, stderr) =
        run(&mut ctx.doppel(["-s", "res", "print", "config", "--eval", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let svc = &doc.as_array().expect("one object per service")[0];
    assert_eq!(svc["service"], "res");
    let sections: Vec<&str> = svc["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["section"].as_str().unwrap())
        .collect();
    assert_eq!(
        sections,
        [
            "DEFAULT",
            "env",
            "subset#sync:g1",
            "subset#app",
            "sync#0",
            "sync#1",
            "sync#2",
            "app#0",
            "app#1"
        ]
    );
    let section = |name: &str| {
        svc["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["section"] == name)
            .unwrap()
            .clone()
    };
    let keyword = |s: &serde_json::Value, k: &str| {
        s["keywords"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["keyword"] == k)
            .unwrap()
            .clone()
    };
    let s0 = section("sync#0");
    assert_eq!(s0["type"], "sync.test");
    let cmd = keyword(&s0, "command");
    assert_eq!(cmd["value"], "for-n1");
    assert_eq!(cmd["origin"]["kind"], "file");
    assert_eq!(cmd["origin"]["key"], "command@n1");
    assert!(
        cmd["origin"]["location"]
            .as_str()
            .unwrap()
            .ends_with("/etc/doppel/services/res.conf:16"),
        "{cmd}"
    );
    let delay = keyword(&s0, "sync_max_delay");
    assert_eq!(delay["value"], "2h");
    assert_eq!(delay["origin"]["kind"], "inherited");
    assert_eq!(
        keyword(&s0, "initial")["origin"],
        serde_json::json!({"kind": "default"})
    );
    assert_eq!(keyword(&section("sync#1"), "sync_max_delay")["value"], "30");
    assert_eq!(section("DEFAULT")["type"], serde_json::Value::Null);
    let env = section("env");
    assert_eq!(env["type"], serde_json::Value::Null);
    assert_eq!(keyword(&env, "site")["value"], "paris");
    assert_eq!(keyword(&env, "site")["origin"]["key"], "site");
    assert_eq!(
        keyword(&env, "owner"),
        serde_json::json!({
            "keyword": "owner",
            "value": "alice",
            "origin": {"kind": "environment", "variable": "OWNER"}
        })
    );
    let parallel = keyword(&section("subset#sync:g1"), "parallel");
    assert_eq!(parallel["value"], "true");
    assert_eq!(parallel["origin"]["kind"], "file");
    assert_eq!(
        keyword(&section("subset#app"), "parallel")["origin"],
        serde_json::json!({"kind": "default"})
    );
    // The reference cycle is reported on stderr, as a warning.
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("warning: ") && l.contains("reference cycle"))
            .count(),
        2,
        "{stderr}"
    );
}

#[test]
fn print_config_works_on_broken_files() {
    let ctx = node_n1();
    let path = ctx.service("broken", BROKEN);
    // As written: the file itself, byte for byte.
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "broken", "print", "config"]));
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(stdout, std::fs::read_to_string(&path).unwrap());
    let (code, stdout, _) =
        run(&mut ctx.doppel(["-s", "broken", "print", "config", "--format", "json"]));
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc[0]["text"], BROKEN);

    // Resolved: what could be, with the diagnostics as warnings.
    let (code, stdout, stderr) =
        run(&mut ctx.doppel(["-s", "broken", "print", "config", "--eval"]));
    assert_eq!(code, 0, "{stderr}");
    let (_, validate, _) = run(&mut ctx.doppel(["-s", "broken", "validate"]));
    let warnings: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("warning: "))
        .collect();
    assert_eq!(warnings, validate.lines().collect::<Vec<_>>());
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("sync#0.initial = sideways ")),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("sync#1.type = nope ")),
        "{stdout}"
    );
    // -q keeps the warnings out.
    let (code, _, stderr) =
        run(&mut ctx.doppel(["-q", "-s", "broken", "print", "config", "--eval"]));
    assert_eq!((code, stderr.as_str()), (0, ""));
}

#[test]
fn print_config_of_several_services() {
    let ctx = node_n1();
    ctx.service("a", "[fs#0]\ntype = test\n");
    ctx.service("b", "[app#0]\ntype = script\nstart = /bin/true\n");
    doppel_snapshot!(
        ctx,
        "config_print_several",
        ctx.doppel(["-s", "a,b", "print", "config"])
    );
    let (code, stdout, _) =
        run(&mut ctx.doppel(["-s", "*", "print", "config", "--eval", "--format", "json"]));
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
}
