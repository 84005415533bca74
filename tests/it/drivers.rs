//! Driver discovery, loading and the ABI compatibility promise.

use std::os::unix::fs::PermissionsExt;

use doppel_e2e::{TestContext, doppel_snapshot, fixtures, run, target_dir};

fn list_json(ctx: &TestContext) -> serde_json::Value {
    let (code, stdout, stderr) = run(ctx
        .doppel(["drivers", "list", "--format", "json"])
        .env("DOPPEL_DRIVER_PATH", ""));
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).expect("valid JSON")
}

fn types(doc: &serde_json::Value) -> Vec<String> {
    doc["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["type"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn first_party_drivers_load_from_the_executable_directory() {
    let ctx = TestContext::new();
    let doc = list_json(&ctx);
    let types = types(&doc);
    for expected in [
        "app.script",
        "sync.test",
        "fs.test",
        "app.test",
        "disk.test",
        "task.test",
    ] {
        assert!(
            types.contains(&expected.to_owned()),
            "{expected} missing from {types:?}"
        );
    }
    let test = doc["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "sync.test")
        .unwrap();
    assert_eq!(test["api_version"], "1.0.0");
    assert_eq!(test["protocol"], 1);
    assert!(
        test["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "poke")
    );
    assert!(
        test["path"]
            .as_str()
            .unwrap()
            .ends_with("libdoppel_driver_testsync.so")
    );
}

#[test]
fn drivers_info_describes_keywords_and_actions() {
    let ctx = TestContext::new();
    doppel_snapshot!(ctx, ctx.doppel(["drivers", "info", "sync.test"]));
    let (code, _, stderr) = run(&mut ctx.doppel(["drivers", "info", "sync.nope"]));
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("doppel: no driver sync.nope is installed (installed: "),
        "{stderr}"
    );
}

#[test]
fn vendor_driver_loads_from_doppel_driver_path() {
    let ctx = TestContext::new();
    let dir = fixtures::vendor_driver_against("1.0.0");
    let (code, stdout, stderr) = run(ctx
        .doppel(["drivers", "list", "--format", "json"])
        .env("DOPPEL_DRIVER_PATH", &dir));
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let d = doc["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "sync.dircopy")
        .expect("vendor driver");
    assert_eq!(d["version"], "0.2.0");
    assert!(
        d["path"]
            .as_str()
            .unwrap()
            .starts_with(dir.to_str().unwrap())
    );
}

/// The promise of plugin-api/README.md: a driver built against an earlier 1.x
/// plugin-api loads in this host, and so does one built against a later 1.x. The
/// copy is relabelled from this tree's sources; `abi_is_frozen` (plugin-api unit
/// test) pins those sources' ABI to the 1.0.0 one, so the relabelled 1.0.0 driver
/// has exactly the 1.0.0 ABI whatever version this host's plugin-api has reached.
#[test]
fn drivers_built_against_other_1x_minors_load() {
    let ctx = TestContext::new();
    for version in ["1.0.0", "1.9.0"] {
        let dir = fixtures::vendor_driver_against(version);
        let (code, stdout, stderr) = run(ctx
            .doppel(["drivers", "list", "--format", "json"])
            .env("DOPPEL_DRIVER_PATH", &dir));
        assert_eq!(code, 0, "{stderr}");
        let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert!(
            doc["skipped"].as_array().unwrap().is_empty(),
            "{version}: {}",
            doc["skipped"]
        );
        let d = doc["drivers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["type"] == "sync.dircopy")
            .unwrap();
        assert_eq!(d["api_version"], version);
    }
}

#[test]
fn broken_and_unsafe_drivers_are_skipped_with_one_line_each() {
    let ctx = TestContext::new();
    // A driver of another ABI major.
    let major2 = fixtures::vendor_driver_against("2.0.0");
    // A shared library that is not a driver.
    let junk_dir = ctx.root().join("junk");
    fixtures::non_driver_library(&junk_dir);
    // A good driver in a world-writable directory.
    let open_dir = ctx.root().join("world-writable");
    std::fs::create_dir_all(&open_dir).unwrap();
    std::fs::copy(
        target_dir().join("libdoppel_driver_testsync.so"),
        open_dir.join("libdoppel_driver_opensync.so"),
    )
    .unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    // A group-writable driver file in an otherwise fine directory.
    let gw_dir = ctx.root().join("group-writable");
    std::fs::create_dir_all(&gw_dir).unwrap();
    let gw = gw_dir.join("libdoppel_driver_gwsync.so");
    std::fs::copy(target_dir().join("libdoppel_driver_testsync.so"), &gw).unwrap();
    std::fs::set_permissions(&gw, std::fs::Permissions::from_mode(0o775)).unwrap();

    let path = std::env::join_paths([&major2, &junk_dir, &open_dir, &gw_dir]).unwrap();
    let mut cmd = ctx.doppel(["drivers", "list"]);
    cmd.env("DOPPEL_DRIVER_PATH", &path);
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("sync.test"),
        "the good drivers still load:\n{stdout}"
    );
    let warnings: Vec<&str> = stderr.lines().collect();
    assert_eq!(warnings.len(), 4, "{stderr}");
    let find = |name: &str| {
        *warnings
            .iter()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name}: {stderr}"))
    };
    assert!(find("libdoppel_driver_api_2_0_0.so").ends_with(
        "built against doppel-plugin-api 2.0.0, this doppel needs 1.x (rebuild the driver)"
    ));
    assert!(
        find("libdoppel_driver_notadriver.so")
            .ends_with("not a doppel driver (no driver root module in the library)")
    );
    assert!(
        find("libdoppel_driver_opensync.so").ends_with(
            "its directory is writable by group or others (mode 777); fix with chmod go-w"
        )
    );
    assert!(
        find("libdoppel_driver_gwsync.so")
            .ends_with("the file is writable by group or others (mode 775); fix with chmod go-w")
    );
    for w in &warnings {
        assert!(w.starts_with("warning: skipped driver "), "{w}");
    }
}

#[test]
fn a_panic_in_describe_is_reported_and_the_process_goes_on() {
    let ctx = TestContext::new();
    let (code, stdout, stderr) = run(ctx
        .doppel(["drivers", "list"])
        .env("DOPPEL_TEST_DRIVER_PANIC", "describe"));
    assert_eq!(code, 0);
    assert!(stdout.contains("app.script"), "{stdout}");
    let line = stderr
        .lines()
        .find(|l| l.contains("libdoppel_driver_testsync.so"))
        .expect(&stderr);
    assert!(
        line.contains("driver testsync panicked in describe: describe was told to panic"),
        "{line}"
    );
}

/// Runs `poke` on a `sync.test` resource with the test driver reporting what
/// the host's typed services answer it; returns those answers by name.
fn host_answers(ctx: &TestContext, extra: &[&str]) -> std::collections::BTreeMap<String, String> {
    let mut args = vec!["-s", "svc", "poke"];
    args.extend_from_slice(extra);
    let (code, _stdout, stderr) = run(ctx.doppel(args).env("DOPPEL_TEST_DRIVER_HOST_INFO", "1"));
    assert_eq!(code, 0, "{stderr}");
    stderr
        .lines()
        .filter_map(|l| l.split_once(" - INFO - host "))
        .filter_map(|(_, rest)| rest.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn a_driver_asking_the_host_for_its_features_gets_the_real_hosts_answer() {
    let ctx = TestContext::new();
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    ctx.service("svc", "[sync#1]\ntype = test\n");
    let before = jiff::Timestamp::now();
    let answers = host_answers(&ctx, &[]);
    let after = jiff::Timestamp::now();

    // Across the ABI and the driver's own process: the host's `features` answer,
    // not the protocol-1 fallback a host without it would leave the driver with.
    let features: doppel_plugin_api::HostFeatures =
        serde_json::from_str(answers.get("features").expect("features line")).expect("JSON");
    let current = doppel_plugin_api::HostFeatures::current();
    assert_eq!(
        (features.protocol_min, features.protocol_max),
        (current.protocol_min, current.protocol_max)
    );
    assert_ne!(features, doppel_plugin_api::HostFeatures::protocol1());
    // Every service plugin-api names, and the host's file services.
    for service in current
        .features
        .iter()
        .map(String::as_str)
        .chain(["read_file", "write_file"])
    {
        assert!(features.has(service), "{service} missing from {features:?}");
    }
    assert_eq!(
        features.negotiated(),
        Some(doppel_plugin_api::PROTOCOL_VERSION)
    );

    // The other typed services answer too: the host's clock, and no --dry-run.
    assert_eq!(answers["dry_run"], "false");
    let now: jiff::Timestamp = answers["now"].parse().expect("RFC 3339");
    assert!(
        now >= before - jiff::SignedDuration::from_secs(1)
            && now <= after + jiff::SignedDuration::from_secs(1),
        "host now {now} outside [{before}, {after}]"
    );

    // Under --dry-run the driver hears it from the host itself.
    let dry = host_answers(&ctx, &["--dry-run"]);
    assert_eq!(dry["dry_run"], "true");
    assert_eq!(dry["features"], answers["features"]);
}
