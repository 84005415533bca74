//! Driver isolation (issue 16): drivers run in processes of their own, so one
//! that aborts, exits, segfaults, overflows its stack, is built with
//! `panic = "abort"`, ends its process while loading, or hangs, fails its own
//! resource in one line naming it, and everything else carries on.
//!
//! The misbehaving driver is `sync.crash` (tests/crash-driver), built on demand
//! by `fixtures::crash_driver`; each test checks what an operator sees: exit
//! codes, the status, the console and the log file.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use doppel_e2e::fixtures::{self, CrashBuild};
use doppel_e2e::{TestContext, assert_line, run};

fn context(build: CrashBuild) -> TestContext {
    let mut ctx = TestContext::new();
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    ctx.env(
        "DOPPEL_DRIVER_PATH",
        fixtures::crash_driver(build).display().to_string(),
    );
    ctx
}

/// `-s <svc> status --format json`: rid -> (status, first message).
fn statuses(ctx: &TestContext, svc: &str) -> Vec<(String, String, String)> {
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", svc, "status", "--format", "json"]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    doc[0]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| {
            (
                r["rid"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
                r["messages"][0]["text"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn log_of(ctx: &TestContext, svc: &str) -> String {
    std::fs::read_to_string(ctx.root().join(format!("var/log/doppel/{svc}.log")))
        .unwrap_or_default()
}

const LIB: &str = "sync.crash (libdoppel_driver_crash.so)";

#[test]
fn every_kind_of_crash_in_status_is_one_line_and_the_others_carry_on() {
    let ctx = context(CrashBuild::Plain);
    ctx.service(
        "demo",
        "[fs#1]\ntype = test\ninitial = up\n\n\
         [sync#1]\ntype = crash\ncrash = abort\n\n\
         [sync#2]\ntype = crash\ncrash = exit\n\n\
         [sync#3]\ntype = crash\ncrash = segfault\n\n\
         [sync#4]\ntype = crash\ncrash = stack_overflow\n\n\
         [sync#5]\ntype = crash\ncrash = hang\nstatus_timeout = 1s\n\n\
         [sync#6]\ntype = crash\ncrash = none\n",
    );
    // Twice: the second command starts fresh driver processes, as the first did
    // after each crash (sync#6 is served by the process started after sync#5's).
    for _ in 0..2 {
        let got = statuses(&ctx, "demo");
        let want = [
            ("fs#1", "up", String::new()),
            (
                "sync#1",
                "undef",
                format!("driver {LIB} crashed in status: killed by SIGABRT"),
            ),
            (
                "sync#2",
                "undef",
                format!("driver {LIB} crashed in status: exited with code 3"),
            ),
            (
                "sync#3",
                "undef",
                format!("driver {LIB} crashed in status: killed by SIGSEGV"),
            ),
        ];
        for (rid, status, message) in want {
            let (_, s, m) = got.iter().find(|(r, _, _)| r == rid).expect(rid);
            assert_eq!(
                (s.as_str(), m.as_str()),
                (status, message.as_str()),
                "{rid}: {got:?}"
            );
        }
        let (_, s, m) = got.iter().find(|(r, _, _)| r == "sync#4").unwrap();
        assert_eq!(s, "undef");
        assert!(
            m == &format!("driver {LIB} crashed in status: killed by SIGABRT")
                || m == &format!("driver {LIB} crashed in status: killed by SIGSEGV"),
            "{m}"
        );
        let (_, s, m) = got.iter().find(|(r, _, _)| r == "sync#5").unwrap();
        assert_eq!(
            (s.as_str(), m.as_str()),
            (
                "undef",
                format!("driver {LIB} timed out in status after 1s (status_timeout): killed")
                    .as_str()
            )
        );
        let (_, s, _) = got.iter().find(|(r, _, _)| r == "sync#6").unwrap();
        assert_eq!(s, "up", "{got:?}");
    }
    let log = log_of(&ctx, "demo");
    assert!(
        log.lines().any(|l| l.ends_with(&format!(
            "DEMO.SYNC#1 - ERROR - driver {LIB} crashed in status: killed by SIGABRT"
        ))),
        "{log}"
    );
    // The stack overflow is named by the runtime's last words.
    assert!(log.contains("driver stderr: "), "{log}");
}

#[test]
fn a_crash_in_an_action_fails_it_naming_the_driver_and_the_next_call_respawns() {
    let ctx = context(CrashBuild::Plain);
    ctx.service(
        "demo",
        "[fs#1]\ntype = test\n\n\
         [sync#1]\ntype = crash\ncrash = abort\ncrash_in = sync_update\n\n\
         [sync#2]\ntype = crash\ncrash = none\n",
    );
    let (code, _, stderr) = run(&mut ctx.doppel(["-s", "demo", "sync", "update"]));
    assert_eq!(code, 1, "{stderr}");
    assert_line(
        &stderr,
        &format!("* DEMO.SYNC#1 - ERROR - driver {LIB} crashed in sync_update: killed by SIGABRT"),
    );
    // The same command goes on with other work: start runs fs#1 and sync#2
    // (sync#1 crashes only in sync_update).
    let (code, _, stderr) = run(&mut ctx.doppel(["-s", "demo", "start"]));
    assert_eq!(code, 0, "{stderr}");
    let got = statuses(&ctx, "demo");
    assert!(
        got.iter().any(|(r, s, _)| r == "fs#1" && s == "up"),
        "{got:?}"
    );
    assert!(
        got.iter().any(|(r, s, _)| r == "sync#1" && s == "up"),
        "{got:?}"
    );
}

#[test]
fn a_hung_action_is_killed_at_the_driver_limit_or_the_resource_keyword() {
    let ctx = context(CrashBuild::Plain);
    // sync.crash declares a 3s limit for sync_update.
    ctx.service(
        "demo",
        "[sync#1]\ntype = crash\ncrash = hang\ncrash_in = sync_update\n",
    );
    let started = Instant::now();
    let (code, _, stderr) = run(&mut ctx.doppel(["-s", "demo", "sync", "update"]));
    assert_eq!(code, 1, "{stderr}");
    assert_line(
        &stderr,
        &format!(
            "* DEMO.SYNC#1 - ERROR - driver {LIB} timed out in sync_update after 3s (the driver's limit): killed"
        ),
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    ctx.service(
        "demo",
        "[sync#1]\ntype = crash\ncrash = hang\ncrash_in = sync_update\naction_timeout = 1s\n",
    );
    let (code, _, stderr) = run(&mut ctx.doppel(["-s", "demo", "sync", "update"]));
    assert_eq!(code, 1, "{stderr}");
    assert_line(
        &stderr,
        &format!(
            "* DEMO.SYNC#1 - ERROR - driver {LIB} timed out in sync_update after 1s (action_timeout): killed"
        ),
    );
}

#[test]
fn a_panic_abort_build_is_a_crash_with_its_panic_message_in_the_log() {
    let ctx = context(CrashBuild::PanicAbort);
    ctx.service(
        "demo",
        "[sync#1]\ntype = crash\ncrash = panic\n\n[sync#2]\ntype = crash\n",
    );
    let got = statuses(&ctx, "demo");
    assert_eq!(
        got[0],
        (
            "sync#1".to_owned(),
            "undef".to_owned(),
            "driver sync.crash (libdoppel_driver_crashabort.so) crashed in status: killed by SIGABRT"
                .to_owned()
        )
    );
    assert_eq!(got[1].1, "up", "{got:?}");
    let log = log_of(&ctx, "demo");
    assert!(
        log.contains("driver stderr: ") && log.contains("sync.crash was told to panic in status"),
        "{log}"
    );
}

#[test]
fn a_library_that_ends_its_process_on_load_is_listed_broken() {
    let ctx = context(CrashBuild::ConstructorExit);
    let lib =
        fixtures::crash_driver(CrashBuild::ConstructorExit).join("libdoppel_driver_crashctor.so");
    for (how, why) in [
        ("exit", "exited with code 7"),
        ("abort", "killed by SIGABRT"),
    ] {
        let (code, stdout, stderr) = run(ctx
            .doppel(["drivers", "list"])
            .env("DOPPEL_CRASH_CTOR", how));
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("sync.test"), "the others load:\n{stdout}");
        assert_line(
            &stdout,
            &format!(
                "  {}: crashed while loading the library: {why}",
                lib.display()
            ),
        );
        assert_line(
            &stderr,
            &format!(
                "warning: skipped driver {}: crashed while loading the library: {why}",
                lib.display()
            ),
        );
    }
    // Services that do not use it are not affected.
    ctx.service("other", "[fs#1]\ntype = test\ninitial = up\n");
    let got = statuses(&ctx, "other");
    assert_eq!(got[0].1, "up");
}

fn process_gone(pid: i32) -> bool {
    // Gone, or a zombie waiting for its reaper.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

fn wait_for(path: &Path, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        if let Some(text) = std::fs::read_to_string(path).ok().filter(|t| !t.is_empty()) {
            return text;
        }
        assert!(start.elapsed() < limit, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_and_ctrl_c_end_a_hung_driver_and_what_it_started() {
    let ctx = context(CrashBuild::Plain);
    ctx.service(
        "demo",
        "[sync#1]\ntype = crash\ncrash = hang\ncrash_in = start\nspawn = sleep\noptional = false\n",
    );
    let pid_file = ctx.root().join("var/lib/doppel/demo/sync#1/spawned.pid");
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let _ = std::fs::remove_file(&pid_file);
        let mut child = ctx
            .doppel(["-s", "demo", "start"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn doppel");
        let tool: i32 = wait_for(&pid_file, Duration::from_secs(30))
            .trim()
            .parse()
            .expect("pid");
        assert!(!process_gone(tool), "the tool runs");
        // SAFETY: signals the doppel child this test started.
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "doppel did not end after signal {signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(status.code(), Some(1), "signal {signal}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "driver {LIB} did not stop within 5s of the interruption: killed"
            )),
            "{stderr}"
        );
        let start = Instant::now();
        while !process_gone(tool) {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "signal {signal}: the driver's own child {tool} outlived doppel"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn in_process_mode_is_for_debugging_and_still_works() {
    let mut ctx = context(CrashBuild::Plain);
    ctx.env("DOPPEL_DRIVERS_IN_PROCESS", "1");
    ctx.service("demo", "[sync#1]\ntype = crash\n");
    let got = statuses(&ctx, "demo");
    assert_eq!(got[0].1, "up");
    // The price of debugging in-process: a crash takes that doppel down.
    ctx.service("demo", "[sync#1]\ntype = crash\ncrash = abort\n");
    let out = ctx
        .doppel(["-s", "demo", "status"])
        .output()
        .expect("run doppel");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{out:?}");
}

#[test]
fn manifests_with_an_empty_type_duplicate_or_reserved_keywords_are_refused() {
    let ctx = context(CrashBuild::Plain);
    let lib = fixtures::crash_driver(CrashBuild::Plain).join("libdoppel_driver_crash.so");
    for (how, why) in [
        (
            "empty_type",
            "its manifest declares an empty type (\"sync.\")",
        ),
        (
            "duplicate",
            "driver sync.crash: keyword 'crash' is declared twice",
        ),
        (
            "reserved",
            "driver sync.crash: keyword 'tags' is reserved by doppel (a generic resource keyword)",
        ),
    ] {
        // This driver's manifest follows its environment, which a real one's
        // never does: the manifest cache would keep the first one.
        let (code, stdout, stderr) = run(ctx
            .doppel(["drivers", "list"])
            .env("DOPPEL_CRASH_MANIFEST", how)
            .env("DOPPEL_DRIVER_CACHE", "off"));
        assert_eq!(code, 0, "{stderr}");
        assert!(!stdout.contains("sync.crash "), "{stdout}");
        assert_line(
            &stderr,
            &format!("warning: skipped driver {}: {why}", lib.display()),
        );
    }
}

#[test]
fn a_symlink_into_a_writable_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let ctx = context(CrashBuild::Plain);
    let open_dir = ctx.root().join("world-writable");
    std::fs::create_dir_all(&open_dir).unwrap();
    std::fs::copy(
        doppel_e2e::target_dir().join("libdoppel_driver_testsync.so"),
        open_dir.join("real.so"),
    )
    .unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let trusted = ctx.root().join("trusted");
    std::fs::create_dir_all(&trusted).unwrap();
    let link = trusted.join("libdoppel_driver_linked.so");
    std::os::unix::fs::symlink(open_dir.join("real.so"), &link).unwrap();
    let (code, _, stderr) = run(ctx
        .doppel(["drivers", "list"])
        .env("DOPPEL_DRIVER_PATH", &trusted));
    assert_eq!(code, 0, "{stderr}");
    assert_line(
        &stderr,
        &format!(
            "warning: skipped driver {}: the symlink's target directory {} is writable by group or others (mode 777); fix with chmod go-w",
            link.display(),
            open_dir.display()
        ),
    );
}

#[test]
fn two_files_claiming_one_type_are_both_refused_unless_the_node_config_pins_one() {
    let ctx = context(CrashBuild::Plain);
    // A vendor directory shipping its own build of the first-party sync.symclone.
    let vendor = ctx.root().join("vendor");
    std::fs::create_dir_all(&vendor).unwrap();
    let theirs = vendor.join("libdoppel_driver_vendorsym.so");
    std::fs::copy(
        doppel_e2e::target_dir().join("libdoppel_driver_symclone.so"),
        &theirs,
    )
    .unwrap();
    let ours = doppel_e2e::target_dir().join("libdoppel_driver_symclone.so");
    let (code, stdout, stderr) = run(ctx
        .doppel(["drivers", "list"])
        .env("DOPPEL_DRIVER_PATH", &vendor));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stdout.lines().any(|l| l.starts_with("sync.symclone ")),
        "{stdout}"
    );
    let why = format!(
        "sync.symclone is claimed by {} and {}: refused (pin one in the node config: [driver_files] \"sync.symclone\" = \"<file>\")",
        theirs.display(),
        ours.display()
    );
    assert_line(
        &stderr,
        &format!("warning: skipped driver {}: {why}", theirs.display()),
    );
    assert_line(
        &stderr,
        &format!("warning: skipped driver {}: {why}", ours.display()),
    );
    // Pinned: that file provides the type, the other is skipped saying so.
    ctx.write(
        "etc/doppel/doppel.toml",
        &format!(
            "nodename = \"n1\"\n\n[driver_files]\n\"sync.symclone\" = \"{}\"\n",
            ours.display()
        ),
    );
    let (code, stdout, stderr) = run(ctx
        .doppel(["drivers", "list"])
        .env("DOPPEL_DRIVER_PATH", &vendor));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("sync.symclone ") && l.ends_with(&ours.display().to_string())),
        "{stdout}"
    );
    assert_line(
        &stderr,
        &format!(
            "warning: skipped driver {}: sync.symclone is pinned to {} by the node config (driver_files)",
            theirs.display(),
            ours.display()
        ),
    );
}

#[test]
fn the_daemons_drain_ends_a_hung_driver_and_what_it_started() {
    let ctx = context(CrashBuild::Plain);
    ctx.service(
        "demo",
        "[DEFAULT]\nnodes = n1\n\n[sync#1]\ntype = crash\ncrash = hang\ncrash_in = sync_update\n\
         spawn = sleep\nschedule = @1h\naction_timeout = 1h\n",
    );
    let pid_file = ctx.root().join("var/lib/doppel/demo/sync#1/spawned.pid");
    let mut daemon = ctx
        .doppel(["daemon"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn daemon");
    let tool: i32 = wait_for(&pid_file, Duration::from_secs(30))
        .trim()
        .parse()
        .expect("pid");
    assert!(!process_gone(tool), "the tool runs");
    // The first SIGTERM drains, the second stops now.
    for _ in 0..2 {
        // SAFETY: signals the daemon this test started.
        unsafe {
            libc::kill(daemon.id() as i32, libc::SIGTERM);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let start = Instant::now();
    while daemon.try_wait().expect("wait").is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the daemon did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let start = Instant::now();
    while !process_gone(tool) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the driver's own child {tool} outlived the daemon"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn drivers_info_shows_the_time_limits_a_driver_declares() {
    let ctx = context(CrashBuild::Plain);
    let (code, stdout, stderr) = run(&mut ctx.doppel(["drivers", "info", "sync.crash"]));
    assert_eq!(code, 0, "{stderr}");
    assert_line(&stdout, "  time limits:  sync_update 3s");
}

/// The pids of the processes whose command line is exactly `argv`.
fn pids_of(argv: &[&str]) -> Vec<i32> {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want))
        .collect()
}

#[test]
fn sigterm_kills_the_tool_a_driver_runs_through_doppel() {
    let ctx = context(CrashBuild::Plain);
    // The test driver runs `command` through the host: doppel starts the tool.
    ctx.service("demo", "[fs#1]\ntype = test\ncommand = sleep 316.25\n");
    let mut child = ctx
        .doppel(["-s", "demo", "start"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn doppel");
    let start = Instant::now();
    let tool = loop {
        if let Some(pid) = pids_of(&["sleep", "316.25"]).first() {
            break *pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the tool never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: signals the doppel child this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "doppel did not end"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("output");
    assert_eq!(
        status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(process_gone(tool), "the tool {tool} outlived doppel");
}

#[test]
fn one_driver_process_serves_every_call_of_a_command_and_a_crash_starts_a_new_one() {
    let ctx = context(CrashBuild::Plain);
    let pids = ctx.root().join("pids");
    let p = pids.display();
    ctx.service(
        "demo",
        &format!(
            "[sync#1]\ntype = crash\nrecord_pid = {p}\n\n[sync#2]\ntype = crash\nrecord_pid = {p}\n\n\
             [sync#3]\ntype = crash\nrecord_pid = {p}\ncrash = abort\n\n[sync#4]\ntype = crash\nrecord_pid = {p}\n"
        ),
    );
    let read = || -> Vec<u32> {
        std::fs::read_to_string(&pids)
            .unwrap_or_default()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect()
    };
    statuses(&ctx, "demo");
    let first = read();
    assert_eq!(first.len(), 4, "{first:?}");
    // sync#1..3 in one process (the doppel command's, not doppel's own pid),
    // sync#4 in the one started after sync#3's crash.
    assert_eq!(first[0], first[1]);
    assert_eq!(first[1], first[2]);
    assert_ne!(first[2], first[3]);
    std::fs::remove_file(&pids).unwrap();
    statuses(&ctx, "demo");
    let second = read();
    assert!(
        !second.contains(&first[0]) && !second.contains(&first[3]),
        "{first:?} {second:?}"
    );
}

#[test]
fn a_crash_in_validate_names_its_resource_and_every_other_is_still_checked() {
    // A service's resources of one driver are validated in one message to its
    // process; a crash there must still be pinned on the resource that did it.
    let ctx = context(CrashBuild::Plain);
    ctx.service(
        "demo",
        "[sync#1]\ntype = crash\n\n\
         [sync#2]\ntype = crash\ncrash = abort\ncrash_in = validate\n\n\
         [sync#3]\ntype = crash\n\n\
         [sync#4]\ntype = crash\ncrash = exit\ncrash_in = validate\n\n\
         [fs#1]\ntype = test\nbad = 1\n",
    );
    ctx.service(
        "other",
        "[sync#1]\ntype = crash\n\n[sync#2]\ntype = crash\n",
    );
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "*", "validate"]));
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    let file = ctx.root().join("etc/doppel/services/demo.conf");
    let file = file.display();
    assert_eq!(
        stdout,
        format!(
            "{file}:4: sync#2: driver validation failed: driver {LIB} crashed in validate: killed by SIGABRT\n\
             {file}:12: sync#4: driver validation failed: driver {LIB} crashed in validate: exited with code 3\n\
             {file}:19: fs#1.bad: the test driver refuses bad = 1\n\
             other: ok\n"
        ),
        "{stderr}"
    );
}

/// The manifest cache (`var/cache/doppel/drivers.json`): an unchanged library
/// is not loaded again to read its manifest; a replaced one is, and a library
/// that became unsafe to load is refused even though its manifest is known.
#[test]
fn manifests_of_unchanged_libraries_come_from_the_cache_and_a_replaced_one_is_probed() {
    let mut ctx = TestContext::new();
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    let dir = ctx.root().join("drivers");
    std::fs::create_dir(&dir).unwrap();
    let source = fixtures::crash_driver(CrashBuild::Plain).join("libdoppel_driver_crash.so");
    let lib = dir.join("libdoppel_driver_crash.so");
    std::fs::copy(&source, &lib).unwrap();
    ctx.env("DOPPEL_DRIVER_PATH", dir.display().to_string());
    let listed = |stdout: &str| stdout.lines().any(|l| l.starts_with("sync.crash "));

    let (code, stdout, stderr) = run(&mut ctx.doppel(["drivers", "list"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(listed(&stdout), "{stdout}");
    let cache_path = ctx.root().join("var/cache/doppel/drivers.json");
    let cache = std::fs::read_to_string(&cache_path).expect("the cache is written");
    assert!(cache.contains(&*lib.to_string_lossy()), "{cache}");
    // In-process drivers (a debugging aid) neither read nor rewrite it.
    let (code, stdout, stderr) = run(ctx
        .doppel(["drivers", "list"])
        .env("DOPPEL_DRIVERS_IN_PROCESS", "1"));
    assert_eq!(code, 0, "{stderr}");
    assert!(listed(&stdout), "{stdout}");
    assert_eq!(std::fs::read_to_string(&cache_path).unwrap(), cache);

    // Loaded now, this library would declare a keyword twice and be refused:
    // from the cache it is not loaded, and its recorded manifest stands.
    let duplicate = |ctx: &TestContext| {
        run(ctx
            .doppel(["drivers", "list"])
            .env("DOPPEL_CRASH_MANIFEST", "duplicate"))
    };
    let (code, stdout, stderr) = duplicate(&ctx);
    assert_eq!(code, 0, "{stderr}");
    assert!(listed(&stdout), "{stdout}");
    assert!(!stderr.contains("warning"), "{stderr}");

    // The same bytes copied over it: a new version of the file, probed.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::copy(&source, &lib).unwrap();
    let (_, stdout, stderr) = duplicate(&ctx);
    assert!(!listed(&stdout), "{stdout}");
    assert_line(
        &stderr,
        &format!(
            "warning: skipped driver {}: driver sync.crash: keyword 'crash' is declared twice",
            lib.display()
        ),
    );

    // Known to the cache (a new copy, probed as it is), then made writable by
    // others: refused all the same.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::copy(&source, &lib).unwrap();
    let (_, stdout, _) = run(&mut ctx.doppel(["drivers", "list"]));
    assert!(listed(&stdout), "{stdout}");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (_, stdout, stderr) = run(&mut ctx.doppel(["drivers", "list"]));
    assert!(!listed(&stdout), "{stdout}");
    assert_line(
        &stderr,
        &format!(
            "warning: skipped driver {}: the file is writable by group or others (mode 777); fix with chmod go-w",
            lib.display()
        ),
    );
}
