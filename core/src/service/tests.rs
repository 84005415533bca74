use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use doppel_plugin_api::{
    ActionSpec, KeywordSpec, KeywordType, Manifest, Problem, ResourceConfig, Status,
};

use super::*;

struct Catalog(Vec<Manifest>);

impl DriverCatalog for Catalog {
    fn manifest(&self, type_name: &str) -> Option<&Manifest> {
        self.0.iter().find(|m| m.type_name() == type_name)
    }
    fn types(&self) -> Vec<String> {
        self.0.iter().map(Manifest::type_name).collect()
    }
    fn validate(&self, _: &str, config: &ResourceConfig) -> Vec<Problem> {
        match config.get("pairs") {
            Some(p) if p.split_whitespace().any(|x| !x.contains(':')) => {
                vec![Problem::keyword("pairs", "malformed pair")]
            }
            _ => Vec::new(),
        }
    }
}

fn catalog() -> Catalog {
    Catalog(vec![
        Manifest::new("sync", "clone", "1")
            .keyword(
                KeywordSpec::new("symid", KeywordType::String)
                    .required()
                    .not_scopable(),
            )
            .keyword(KeywordSpec::new("pairs", KeywordType::List).required())
            .keyword(KeywordSpec::new("precopy", KeywordType::Boolean).default_value("True"))
            .keyword(KeywordSpec::new("mode", KeywordType::String).candidates(&["fast", "slow"]))
            .action(ActionSpec::standard("sync_update")),
        Manifest::new("fs", "dir", "1").keyword(KeywordSpec::new("path", KeywordType::String)),
    ])
}

fn load_text(text: &str, node: &str) -> Loaded {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("svc.conf");
    std::fs::write(&file, text).unwrap();
    let cat = catalog();
    let opts = LoadOptions {
        nodename: node,
        catalog: &cat,
        driver_options: &|_| BTreeMap::new(),
        state_dir: &|s, r| PathBuf::from(format!("/state/{s}/{r}")),
        driver_validation: true,
    };
    let mut loaded = load("svc", &file, &opts);
    // Diagnostics name the temp file: make them stable.
    for d in &mut loaded.diagnostics {
        if let Some(l) = &mut d.location {
            l.file = std::sync::Arc::from(Path::new("svc.conf"));
        }
    }
    loaded
}

fn messages(text: &str) -> Vec<String> {
    load_text(text, "n1")
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_valid_service_has_no_diagnostics() {
    let text = "[DEFAULT]\nnodes = n1 n2\n\n[sync#0]\ntype = clone\nsymid = 000123\npairs = a:b c:d\nsync_update_depends = fs#1(down,stdby down)\n\n[fs#1]\ntype = dir\n";
    let loaded = load_text(text, "n1");
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let svc = loaded.service.unwrap();
    let sync = svc.resource("sync#0").unwrap();
    assert_eq!(sync.type_name, "sync.clone");
    assert!(
        !sync.optional,
        "no resource is optional by default (om3, the template)"
    );
    assert_eq!(sync.sync_max_delay, Some(1440 * 60));
    assert_eq!(sync.driver_keywords["precopy"], "True");
    assert_eq!(
        sync.conditions["sync_update"],
        vec![Condition {
            rid: "fs#1".into(),
            states: vec![Status::Down, Status::StdbyDown]
        }]
    );
    assert!(!svc.resource("fs#1").unwrap().optional);
}

#[test]
fn every_rule_is_reported_at_once() {
    let text = "\
[DEFAULT]
lock_timeout = soon

[sync#0]
type = clone
pairs = a:b c
symid@n1 = 1
mode = medium
precopy = perhaps
tagz = x
start_depends = sync#0
sync_update_requires = fs#9 fs#1(bogus)

[fs#1]
type = nope

[fs#2]
type = dir
path = {env.doppel_test_unset_variable_x}

[weird]
";
    insta::assert_snapshot!(messages(text).join("\n"), @r#"
    svc.conf:2: DEFAULT.lock_timeout: expected a duration like 1h30m, got "soon"
    svc.conf:4: sync#0.symid: missing required keyword
    svc.conf:6: sync#0.pairs: malformed pair
    svc.conf:7: sync#0.symid@n1: keyword 'symid' does not support scoping (@n1)
    svc.conf:8: sync#0.mode: invalid value "medium": expected one of fast, slow
    svc.conf:9: sync#0.precopy: expected a boolean (yes/no, true/false, y/n, t/f, 1/0), got "perhaps"
    svc.conf:10: sync#0.tagz: unknown keyword (did you mean 'tags'?)
    svc.conf:11: sync#0.start_depends: a resource cannot depend on itself
    svc.conf:12: sync#0.sync_update_depends: malformed condition "fs#1(bogus)": unknown state "bogus" (expected up, down, warn, n/a, undef, stdby up, stdby down)
    svc.conf:15: fs#1.type: unknown driver type fs.nope (see `doppel drivers list`)
    svc.conf:19: fs#2.path: unresolved reference {env.doppel_test_unset_variable_x}
    svc.conf:21: weird: unknown section: expected [DEFAULT], [env], [subset#<group>[:<name>]] or [<group>#<index>]
    "#);
}

#[test]
fn unknown_rids_and_cycles_in_conditions() {
    let text = "[fs#1]\ntype = dir\nstart_depends = fs#2\n\n[fs#2]\ntype = dir\nstart_depends = fs#1\n\n[fs#3]\ntype = dir\nstop_depends = fs#4\n";
    insta::assert_snapshot!(messages(text).join("\n"), @r"
    svc.conf:3: fs#1.start_depends: dependency cycle: fs#1 -> fs#2 -> fs#1
    svc.conf:11: fs#3.stop_depends: unknown resource fs#4 (did you mean fs#1?)
    ");
}

#[test]
fn scopes_resolve_most_specific_first() {
    let text = "[DEFAULT]\nnodes = n1 n2\ndrpnodes = d1\n\n[fs#1]\ntype = dir\npath = plain\npath@nodes = nodes\npath@n2 = n2-only\npath@drpnodes = drp\n";
    let path = |node: &str| {
        let svc = load_text(text, node).service.unwrap();
        svc.resource("fs#1").unwrap().values["path"].value.clone()
    };
    assert_eq!(path("n1"), "nodes");
    assert_eq!(path("n2"), "n2-only");
    assert_eq!(path("d1"), "drp");
    assert_eq!(path("other"), "plain");
}

#[test]
fn references_and_inheritance() {
    let text = "[DEFAULT]\nsync_max_delay = 2h\n\n[env]\nbase = /srv/{svcname}\n\n[sync#0]\ntype = clone\nsymid = 1\npairs = a:b\n\n[fs#1]\ntype = dir\npath = {env.base}/{rid}/{sync#0.symid}@{nodename} ${HOME}\n";
    let svc = load_text(text, "n1").service.unwrap();
    assert_eq!(
        svc.resource("fs#1").unwrap().values["path"].value,
        "/srv/svc/fs#1/1@n1 ${HOME}"
    );
    let sync = svc.resource("sync#0").unwrap();
    assert_eq!(sync.sync_max_delay, Some(7200));
    assert!(matches!(
        sync.values["sync_max_delay"].origin,
        Origin::Inherited { .. }
    ));
    assert!(matches!(sync.values["precopy"].origin, Origin::Default));
}

#[test]
fn reference_cycles_are_reported() {
    let text = "[env]\na = {env.b}\nb = {env.a}\n\n[fs#1]\ntype = dir\npath = {env.a}\n";
    let m = messages(text);
    assert_eq!(
        m,
        vec!["svc.conf:7: fs#1.path: reference cycle: env.a -> env.b -> env.a"]
    );
}

#[test]
fn conditions_parse() {
    let c = parse_conditions("ip#0 fs#1(down, stdby_down) app#web()").unwrap();
    assert_eq!(c[0].states, vec![Status::Up, Status::StdbyUp]);
    assert_eq!(c[1].describe(), "fs#1 in (down, stdby down)");
    assert_eq!(c[2].states, vec![Status::Up, Status::StdbyUp]);
    assert!(parse_conditions("fs#1(down").is_err());
    assert!(parse_conditions("fs1").is_err());
}

#[test]
fn selectors() {
    let names: Vec<String> = ["db1", "db2", "web"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(select_services("db*", &names).unwrap(), vec!["db1", "db2"]);
    assert_eq!(
        select_services("web,db1", &names).unwrap(),
        vec!["web", "db1"]
    );
    assert_eq!(
        select_services("wbe", &names).unwrap_err(),
        "no service matches \"wbe\" (did you mean web?)"
    );
}

#[test]
fn syntax_errors_name_their_section_and_key() {
    let loaded = load_text("[fs#1]\ntype = dir\ntype = dir\n[fs#1] junk\n", "n1");
    let d = &loaded.diagnostics;
    assert_eq!(d[0].section.as_deref(), Some("fs#1"));
    assert_eq!(d[0].keyword.as_deref(), Some("type"));
    assert_eq!(
        d.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "svc.conf:3: fs#1.type: key already set at line 2",
            "svc.conf:4: fs#1: unexpected text after the section header: \"junk\"",
            "svc.conf:4: fs#1: section already defined at line 1",
        ]
    );
}

#[test]
fn condition_problems_point_at_the_line_used_for_this_node() {
    let text = "[DEFAULT]\nnodes = n1 n2\n\n[fs#1]\ntype = dir\nstart_depends@n2 = fs#1\nstart_requires = fs#7\n";
    assert_eq!(
        messages(text),
        ["svc.conf:7: fs#1.start_depends: unknown resource fs#7"]
    );
}

#[test]
fn references_that_double_at_every_level_are_cut_short() {
    let mut text = String::from("[env]\n");
    for i in 0..40 {
        text.push_str(&format!("k{i} = {{env.k{}}}{{env.k{}}}\n", i + 1, i + 1));
    }
    text.push_str("k40 = x\n\n[fs#1]\ntype = dir\npath = {env.k0}\n");
    assert_eq!(
        messages(&text),
        [
            "svc.conf:46: fs#1.path: more than 10000 references to expand (values referencing each other several times?)"
        ]
    );
}

#[test]
fn subset_parallel_cannot_be_scoped() {
    let text = "[subset#fs:a]\nparallel@n1 = true\n\n[fs#1]\ntype = dir\nsubset = a\n";
    assert_eq!(
        messages(text),
        vec![
            "svc.conf:2: subset#fs:a.parallel@n1: keyword 'parallel' does not support scoping (@n1)"
        ]
    );
}

#[test]
fn env_values_are_resolved_for_this_node() {
    let text = "[DEFAULT]\nnodes = n1\n\n[env]\nbase = /srv/{svcname}\nbase@n1 = /data/{svcname}/{nodename}\nlog = {env.base}/log\n\n[fs#1]\ntype = dir\n";
    let svc = load_text(text, "n1").service.unwrap();
    let env: Vec<(&str, &str)> = svc
        .env_values
        .iter()
        .map(|(k, r)| (k.as_str(), r.value.as_str()))
        .collect();
    assert_eq!(env, [("base", "/data/svc/n1"), ("log", "/data/svc/n1/log")]);
    assert!(matches!(&svc.env_values[0].1.origin, Origin::File { key, .. } if key == "base@n1"));
}

/// Counts the batches it is asked to validate.
struct Batching {
    inner: Catalog,
    batches: std::cell::RefCell<Vec<Vec<String>>>,
}

impl DriverCatalog for Batching {
    fn manifest(&self, type_name: &str) -> Option<&Manifest> {
        self.inner.manifest(type_name)
    }
    fn types(&self) -> Vec<String> {
        self.inner.types()
    }
    fn validate_all(&self, items: &[(&str, &ResourceConfig)]) -> Vec<Vec<Problem>> {
        self.batches
            .borrow_mut()
            .push(items.iter().map(|(_, c)| c.rid.clone()).collect());
        items
            .iter()
            .map(|(t, c)| self.inner.validate(t, c))
            .collect()
    }
}

#[test]
fn a_service_is_validated_by_its_drivers_in_one_batch_its_problems_in_file_order() {
    let text = "[sync#0]\ntype = clone\nsymid = 1\npairs = bad\nmode = odd\n\n\
                [fs#1]\ntype = dir\n\n\
                [sync#1]\ntype = clone\nsymid = 2\npairs = a:b worse\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("svc.conf");
    std::fs::write(&file, text).unwrap();
    let cat = Batching {
        inner: catalog(),
        batches: Default::default(),
    };
    let opts = LoadOptions {
        nodename: "n1",
        catalog: &cat,
        driver_options: &|_| BTreeMap::new(),
        state_dir: &|s, r| PathBuf::from(format!("/state/{s}/{r}")),
        driver_validation: true,
    };
    let loaded = load("svc", &file, &opts);
    assert_eq!(
        *cat.batches.borrow(),
        vec![vec!["sync#0".to_owned(), "fs#1".into(), "sync#1".into()]]
    );
    let got: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| {
            let line = d.location.as_ref().map(|l| l.line).unwrap_or(0);
            format!(
                "{line}: {}.{}: {}",
                d.section.as_deref().unwrap_or(""),
                d.keyword.as_deref().unwrap_or(""),
                d.message
            )
        })
        .collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], "4: sync#0.pairs: malformed pair");
    assert!(got[1].starts_with("5: sync#0.mode: "), "{got:?}");
    assert_eq!(got[2], "13: sync#1.pairs: malformed pair");
}
