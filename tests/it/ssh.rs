//! Resources run over OpenSSH (issue 18): a real sshd on 127.0.0.1, started here
//! with keys generated into the test's root.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use doppel_e2e::{TestContext, assert_line, run, target_dir};

struct Sshd {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sshd {
    /// The destination of this server, as a resource's `ssh` keyword takes it.
    fn destination(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.port)
    }

    /// sshd's own log (LogLevel VERBOSE: one "Accepted publickey" per connection).
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    fn connections(&self) -> usize {
        self.log().matches("Accepted publickey for root").count()
    }

    /// Runs `argv` in sshd's mount namespace (the "remote host"'s files) with `env`.
    fn remote(&self, env: &[(&str, String)], argv: &[&str]) -> String {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.child.id().to_string())
            .arg("-m")
            .arg("--")
            .arg("env");
        for (k, v) in env {
            cmd.arg(format!("{k}={v}"));
        }
        let (code, stdout, stderr) = run(cmd.args(argv));
        assert_eq!(code, 0, "{argv:?} on the remote host: {stdout}{stderr}");
        stdout
    }
}

/// What the "remote host" looks like.
#[derive(Default)]
struct RemoteHost {
    /// A directory whose content only the remote host sees: sshd runs in its own
    /// mount namespace, with `<root>/remote` bound over it.
    private_dir: Option<PathBuf>,
    /// The remote sessions' environment (sshd's SetEnv).
    set_env: Vec<(&'static str, String)>,
}

fn keygen(path: &std::path::Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Starts sshd on a free port; writes the node config's `[ssh]` table
/// (identity, known_hosts). `None` (with a note) when sshd is not installed,
/// except in CI, which must have it.
fn sshd(ctx: &TestContext) -> Option<Sshd> {
    sshd_for(ctx, RemoteHost::default(), "")
}

/// [`sshd`] for a remote host set up as `remote`, `node_extra` appended to the
/// node config.
fn sshd_for(ctx: &TestContext, remote: RemoteHost, node_extra: &str) -> Option<Sshd> {
    if !std::path::Path::new("/usr/sbin/sshd").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "sshd is not installed: .ci/run installs openssh-server"
        );
        eprintln!("sshd not installed: ssh tests skipped");
        return None;
    }
    let dir = ctx.root().join("sshd");
    std::fs::create_dir_all(&dir).unwrap();
    keygen(&dir.join("host_key"));
    keygen(&dir.join("client_key"));
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host_pub = std::fs::read_to_string(dir.join("host_key.pub")).unwrap();
    std::fs::write(
        dir.join("known_hosts"),
        format!("[127.0.0.1]:{port} {host_pub}"),
    )
    .unwrap();
    let d = dir.display();
    let mut config = format!(
        "ListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
         StrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\nPermitRootLogin prohibit-password\n\
         LogLevel VERBOSE\n"
    );
    if !remote.set_env.is_empty() {
        let vars: Vec<String> = remote
            .set_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        config.push_str(&format!("SetEnv {}\n", vars.join(" ")));
    }
    std::fs::write(dir.join("sshd_config"), config).unwrap();
    std::fs::create_dir_all("/run/sshd").ok();
    let sshd = ["/usr/sbin/sshd", "-D", "-e", "-p", &port.to_string(), "-f"];
    let mut cmd = match &remote.private_dir {
        None => Command::new(sshd[0]),
        Some(private) => {
            let seen = ctx.root().join("remote");
            std::fs::create_dir_all(&seen).unwrap();
            std::fs::create_dir_all(private).unwrap();
            let mut c = Command::new("unshare");
            c.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
                .arg("mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\"")
                .arg("sh")
                .arg(&seen)
                .arg(private)
                .arg(sshd[0]);
            c
        }
    };
    let child = cmd
        .args(&sshd[1..])
        .arg(dir.join("sshd_config"))
        .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        up,
        "sshd did not start: {}",
        std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
    );
    ctx.write(
        "etc/doppel/doppel.toml",
        &format!(
            "nodename = \"n1\"\n{node_extra}\n[ssh]\nidentity = \"{d}/client_key\"\nknown_hosts = \"{d}/known_hosts\"\n\
             connect_timeout = \"5s\"\n"
        ),
    );
    Some(Sshd { child, port, dir })
}

fn service(ctx: &TestContext, port: u16, start: &str) {
    let out = ctx.root().join("out");
    ctx.service(
        "app",
        &format!(
            "[DEFAULT]\nnodes = n1\nssh = ssh://root@127.0.0.1:{port}\n\n[app#0]\ntype = script\n\
             start = {start}\nstop = rm -f {o}\ncheck = test -f {o}\n",
            o = out.display()
        ),
    );
}

#[test]
fn commands_run_through_sshd_with_argv_intact() {
    let ctx = TestContext::new();
    let Some(sshd) = sshd(&ctx) else { return };
    let out = ctx.root().join("out");
    // The remote shell sees each argument as one word: spaces, quotes, $, ;.
    service(
        &ctx,
        sshd.port,
        &format!(
            "sh -c 'echo \"$SSH_CONNECTION\" > {o}; printf \"[%s]\\n\" \"$@\" >> {o}' x \"a b\" \"it's\" '$HOME;ls'",
            o = out.display()
        ),
    );
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "app", "start"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("127.0.0.1 "), "not through sshd: {text}");
    assert!(
        text.ends_with("[a b]\n[it's]\n[$HOME;ls]\n"),
        "argv changed: {text}"
    );
}

#[test]
fn unknown_host_key_is_one_line_naming_the_destination() {
    let ctx = TestContext::new();
    let Some(sshd) = sshd(&ctx) else { return };
    std::fs::write(ctx.root().join("sshd/known_hosts"), "").unwrap();
    service(&ctx, sshd.port, "true");
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "app", "start"]));
    assert_ne!(code, 0);
    let all = format!("{stdout}{stderr}");
    assert!(
        all.contains(&format!(
            "ssh to ssh://root@127.0.0.1:{} failed: Host key verification failed.",
            sshd.port
        )),
        "{all}"
    );
}

#[test]
fn dry_run_shows_the_ssh_line() {
    let ctx = TestContext::new();
    let Some(sshd) = sshd(&ctx) else { return };
    service(&ctx, sshd.port, "touch /tmp/x");
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "app", "start", "--dry-run"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let all = format!("{stdout}{stderr}");
    // The whole line an operator would paste: strict options, the connection
    // sharing under the state directory, and the remote command quoted once
    // for the remote shell (the script's environment first).
    let (root, port) = (ctx.root().display(), sshd.port);
    assert_line(
        &all,
        &format!(
            r#"* APP.APP#0 - INFO - dry-run: ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ControlMaster=auto -o ControlPath={root}/var/lib/doppel/.ssh/%C -o ControlPersist=10s -o ConnectTimeout=5 -o UserKnownHostsFile={root}/sshd/known_hosts -i {root}/sshd/client_key -- ssh://root@127.0.0.1:{port} 'env '\''DOPPEL_ACTION=start'\'' '\''DOPPEL_RID=app#0'\'' '\''DOPPEL_SVCNAME=app'\'' '\''OPENSVC_ACTION=start'\'' '\''OPENSVC_RID=app#0'\'' '\''OPENSVC_SVCNAME=app'\'' touch /tmp/x'"#
        ),
    );
}

#[test]
fn wrong_key_is_refused_as_an_ssh_failure() {
    let ctx = TestContext::new();
    let Some(sshd) = sshd(&ctx) else { return };
    // The server knows another key than the one doppel presents.
    keygen(&ctx.root().join("sshd/other_key"));
    std::fs::copy(
        ctx.root().join("sshd/other_key.pub"),
        ctx.root().join("sshd/authorized_keys"),
    )
    .unwrap();
    service(&ctx, sshd.port, "true");
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "app", "start"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "ssh to {} failed: root@127.0.0.1: Permission denied (publickey",
            sshd.destination()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("exited with code 255"), "{stderr}");
}

#[test]
fn host_down_is_one_line_and_nothing_hangs() {
    let ctx = TestContext::new();
    let Some(sshd) = sshd(&ctx) else { return };
    let port = sshd.port;
    drop(sshd);
    service(&ctx, port, "true");
    let started = Instant::now();
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "app", "start"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "ssh to ssh://root@127.0.0.1:{port} failed: ssh: connect to host 127.0.0.1 port {port}: Connection refused"
        )),
        "{stderr}"
    );
    // print status says the same, as the resource's status message, not a crash.
    let (code, stdout, stderr) =
        run(&mut ctx.doppel(["-s", "app", "print", "status", "--refresh"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Connection refused"), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("on ssh://root@127.0.0.1:{port}")),
        "{stdout}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_tool_failing_remotely_keeps_its_exit_code_and_stderr() {
    let ctx = TestContext::new();
    let Some(sshd) = sshd(&ctx) else { return };
    service(&ctx, sshd.port, "sh -c 'echo disk4 is busy >&2; exit 3'");
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "app", "start"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("exited with code 3: disk4 is busy"),
        "{stderr}"
    );
    assert!(!stderr.contains("ssh to"), "{stderr}");
}

/// The processes whose command line contains `needle` (but not a shell
/// quoting it).
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let argv: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if argv.first().is_some_and(|a| a.ends_with("sleep")) && argv.iter().any(|a| a == needle) {
            found.push(argv.join(" "));
        }
    }
    found
}

/// Waits (5 s at most) until no `sleep <marker>` runs any more.
#[track_caller]
fn assert_gone_within_5s(marker: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_with(marker).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the remote command outlived {what}: {:?}",
            processes_with(marker)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_hung_remote_command_is_killed_by_its_limit() {
    let ctx = TestContext::new();
    let Some(sshd) = sshd(&ctx) else { return };
    // A number of seconds no other test sleeps: this test's remote process.
    let marker = format!("{}", 100_000 + sshd.port as u32);
    ctx.service(
        "app",
        &format!(
            "[DEFAULT]\nnodes = n1\nssh = {}\ntrigger_timeout = 2s\n\n[app#0]\ntype = script\n\
             start = true\ncheck = false\nblocking_pre_start = sleep {marker}\n",
            sshd.destination()
        ),
    );
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "app", "start"]));
    assert_ne!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("timed out after 2s"), "{stderr}");
    // The remote sleep went with its session: no `ssh -tt`, the input watcher.
    assert_gone_within_5s(&marker, "its limit");
}

#[test]
fn a_status_of_ten_resources_on_one_host_pays_one_handshake() {
    let ctx = TestContext::new();
    let Some(sshd) = sshd(&ctx) else { return };
    let mut text = format!("[DEFAULT]\nnodes = n1\nssh = {}\n", sshd.destination());
    for i in 0..10 {
        text.push_str(&format!(
            "\n[app#{i}]\ntype = script\nstart = true\nstop = true\ncheck = test -n \"$SSH_CONNECTION\"\n"
        ));
    }
    ctx.service("app", &text);
    let (code, stdout, stderr) = run(&mut ctx.doppel([
        "-s",
        "app",
        "print",
        "status",
        "--refresh",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let resources = doc[0]["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 10);
    for r in resources {
        // The check ran through sshd (it sees SSH_CONNECTION).
        assert_eq!(r["status"], "up", "{r}");
        assert_eq!(r["ssh"], sshd.destination().as_str());
    }
    assert_eq!(sshd.connections(), 1, "{}", sshd.log());
}

/// The lab's HP-UX and AIX machines, simulated on a "remote host": the
/// simulators' state exists only in sshd's mount namespace, and the simulators
/// find it through the remote session's environment (sshd's SetEnv). doppel's
/// own environment has neither, so each step works only if its commands and
/// files really went through sshd.
#[test]
fn the_lab_machines_are_driven_over_ssh() {
    let ctx = TestContext::new();
    let sim = ctx.root().join("sim");
    let remote_env = vec![
        ("DOPPEL_SIM_ROOT", sim.display().to_string()),
        ("DOPPEL_SIM_TIME_SCALE", "0".to_owned()),
    ];
    let bin = target_dir().display().to_string();
    let node = format!(
        "\n[driver.drd]\nbin = \"{bin}\"\nsysroot = \"{s}/drd\"\n\n[driver.alt_disk]\nbin = \"{bin}\"\n\n\
         [driver.nimadm]\nbin = \"{bin}\"\nlog_dir = \"{s}/nim/var/adm/ras/alt_mig\"\n",
        s = sim.display()
    );
    let remote = RemoteHost {
        private_dir: Some(sim.clone()),
        set_env: remote_env.clone(),
    };
    let Some(sshd) = sshd_for(&ctx, remote, &node) else {
        return;
    };
    let tool = |name: &str| format!("{bin}/{name}");
    sshd.remote(&remote_env, &[&tool("drdsim"), "init", "--sample"]);
    sshd.remote(&remote_env, &[&tool("aixsim"), "init"]);
    sshd.remote(&remote_env, &[&tool("aixsim"), "set", "copy-seconds", "0"]);
    sshd.remote(
        &remote_env,
        &[&tool("nimsim"), "setup", "--clients", "lpar1,lpar2"],
    );
    sshd.remote(
        &remote_env,
        &[&tool("nimsim"), "set", "phase-seconds", "0.05"],
    );
    assert_eq!(
        std::fs::read_dir(&sim).unwrap().count(),
        0,
        "the simulated machines must exist only on the remote host"
    );
    let dest = sshd.destination();
    ctx.write("etc/drd_exclude", "/opt/app/cache\n");
    ctx.service(
        "rootclone",
        &format!(
            "[DEFAULT]\nnodes = n1\nssh = {dest}\n\n[sync#0]\ntype = drd\ntarget = /dev/disk/disk2\n\
             exclude_list = {}/etc/drd_exclude\noptional = false\n",
            ctx.root().display()
        ),
    );
    ctx.service(
        "altroot",
        &format!("[DEFAULT]\nnodes = n1\nssh = {dest}\n\n[disk#0]\ntype = alt_disk\ndisks = hdisk1\nset_bootlist = false\n"),
    );
    ctx.service(
        "migrate",
        &format!(
            "[DEFAULT]\nnodes = n1\nssh = {dest}\n\n[task#0]\ntype = nimadm\nclients = lpar1 lpar2\n\
             lpp_source = lpp_7200\nspot = spot_7200\ndisks = hdisk1\naccept_licenses = true\noptional = false\n"
        ),
    );
    let mut ctx = ctx;
    ctx.env("DOPPEL_NIMADM_POLL_MS", "20");

    // HP-UX: the clone, then a sync whose lists drd writes on the remote host
    // and the driver reads back through the host's file service.
    let log = ctx.ok(&["-s", "rootclone", "provision"]);
    assert!(log.contains(&format!("-- {dest} ")), "{log}");
    let log = ctx.ok(&["-s", "rootclone", "sync", "update"]);
    assert!(log.contains("drd sync"), "{log}");
    let status = ctx.ok(&["-s", "rootclone", "print", "status", "--refresh"]);
    let (_, stdout, _) = run(&mut ctx.doppel(["-s", "rootclone", "print", "status"]));
    assert!(
        stdout.contains(&format!("  on {dest}")) && stdout.contains("last synced"),
        "{stdout}{status}"
    );
    assert!(stdout.contains("up"), "{stdout}");

    // AIX: alt_disk_copy of rootvg to hdisk1, checked with lspv on the remote host.
    ctx.ok(&["-s", "altroot", "provision"]);
    let lspv = sshd.remote(&remote_env, &[&tool("lspv")]);
    assert!(
        lspv.lines()
            .any(|l| l.starts_with("hdisk1") && l.contains("altinst_rootvg")),
        "{lspv}"
    );

    // NIM: a migration, its per-client log followed over ssh.
    let log = ctx.ok(&["-s", "migrate", "run", "--clients", "lpar1"]);
    assert!(log.contains("client lpar1: phase 12/12 ("), "{log}");
    assert!(
        log.contains("client lpar1: migrated (12/12 phases)"),
        "{log}"
    );
    assert_eq!(
        std::fs::read_dir(&sim).unwrap().count(),
        0,
        "nothing was written locally"
    );
    // Every step went through the one sshd.
    assert!(sshd.connections() >= 1, "{}", sshd.log());
}

#[test]
fn ctrl_c_ends_the_remote_command_too() {
    let ctx = TestContext::new();
    let Some(sshd) = sshd(&ctx) else { return };
    let marker = format!("{}", 200_000 + sshd.port as u32);
    ctx.service(
        "app",
        &format!(
            "[DEFAULT]\nnodes = n1\nssh = {}\n\n[app#0]\ntype = script\nstart = sleep {marker}\ncheck = false\n",
            sshd.destination()
        ),
    );
    let mut child = ctx
        .doppel(["-s", "app", "start"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while processes_with(&marker).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the remote command never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: a signal to the doppel we started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_gone_within_5s(&marker, "Ctrl-C");
}

#[test]
fn a_destination_ssh_would_read_as_an_option_is_refused_with_its_line() {
    let ctx = TestContext::new();
    let path = ctx.service(
        "app",
        "[DEFAULT]\nnodes = n1\n\n[app#0]\ntype = script\nstart = true\nssh = -oProxyCommand=touch\n",
    );
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    let (code, stdout, stderr) = run(&mut ctx.doppel(["-s", "app", "validate"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(
        all.contains(&format!(
            "{}:7: app#0.ssh: invalid ssh destination \"-oProxyCommand=touch\"",
            path.display()
        )),
        "{all}"
    );
}
