//! Resources run over OpenSSH (issue 18): a real sshd on 127.0.0.1, started here
//! with keys generated into the test's root.

use std::process::{Child, Command, Stdio};

use doppel_e2e::{TestContext, run};

struct Sshd {
    child: Child,
    port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
/// (identity, known_hosts). `None` (with a note) when sshd is not installed.
fn sshd(ctx: &TestContext) -> Option<Sshd> {
    if !std::path::Path::new("/usr/sbin/sshd").exists() {
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
    std::fs::write(
        dir.join("sshd_config"),
        format!(
            "ListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\nPermitRootLogin prohibit-password\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all("/run/sshd").ok();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-p", &port.to_string(), "-f"])
        .arg(dir.join("sshd_config"))
        .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    ctx.write(
        "etc/doppel/doppel.toml",
        &format!(
            "nodename = \"n1\"\n\n[ssh]\nidentity = \"{d}/client_key\"\nknown_hosts = \"{d}/known_hosts\"\n\
             connect_timeout = \"5s\"\n"
        ),
    );
    Some(Sshd { child, port })
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
    assert!(
        all.contains("ssh -o BatchMode=yes -o StrictHostKeyChecking=yes"),
        "{all}"
    );
    assert!(
        all.contains(&format!("-- ssh://root@127.0.0.1:{} 'env' ", sshd.port))
            || all.contains(&format!("-- ssh://root@127.0.0.1:{} ", sshd.port)),
        "{all}"
    );
}
