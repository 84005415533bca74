//! The lab demo (the README's main command) runs end to end.

use doppel_e2e::{target_dir, workspace_root};

#[test]
fn lab_demo_runs_end_to_end() {
    let lab = tempfile::Builder::new()
        .prefix("doppel-lab-")
        .tempdir()
        .unwrap();
    let out = std::process::Command::new(workspace_root().join("examples/lab/demo.sh"))
        .env("DOPPEL_LAB_BIN", target_dir())
        .env("DOPPEL_LAB_ROOT", lab.path())
        .env_remove("DOPPEL_DRIVER_PATH")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed\n{stdout}\n{stderr}");
    // The walk-through happened, in order.
    let steps = [
        "doppel -s demo start",
        "doppel -s demo sync update --rid sync#1   (refused",
        "refused, as expected (exit 1)",
        "doppel -s demo stop",
        "doppel -s demo sync update --rid sync#1   (the service is down now",
        "doppel -s demo sync resync",
        "doppel -s demo start --dry-run",
    ];
    let mut pos = 0;
    for s in steps {
        let found = stdout[pos..]
            .find(s)
            .unwrap_or_else(|| panic!("{s:?} missing or out of order:\n{stdout}"));
        pos += found + s.len();
    }
    let line_with =
        |text: &str, parts: &[&str]| text.lines().any(|l| parts.iter().all(|p| l.contains(p)));
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("* DEMO.SYNC#0 - INFO - ")
                && l.ends_with("activate -i 20 -c 30 -consistent")),
        "{stderr}"
    );
    assert!(
        stderr.contains("refusing sync update: app#0 is up (stop the service first, or --force)"),
        "{stderr}"
    );
    assert!(
        stdout.contains("Setting up the SIMULATED array 000197900123"),
        "{stdout}"
    );
    // CI has sshd: the lab's drd clone over ssh ran, and its status says where.
    let have_sshd = std::path::Path::new("/usr/sbin/sshd").exists();
    assert!(
        have_sshd || std::env::var_os("CI").is_none(),
        "sshd is required in CI (.ci/run installs openssh-server)"
    );
    if have_sshd {
        assert!(
            stdout.contains("doppel -s remoteclone print status"),
            "{stdout}\n{stderr}"
        );
        assert!(
            line_with(&stdout, &["sync.drd  last sync ", "  on ssh://"]),
            "{stdout}"
        );
        assert!(
            stderr.contains("* REMOTECLONE.SYNC#0 - INFO - ssh -o BatchMode=yes"),
            "{stderr}"
        );
    }
    let log = std::fs::read_to_string(lab.path().join("var/log/doppel/demo.log")).unwrap();
    assert!(
        log.contains("* DEMO.APP#0 - INFO - reporting database started on the clone devices"),
        "{log}"
    );
}
