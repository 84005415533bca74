//! Changing service files from the command line: get, set, unset, edit config,
//! delete, enable/disable, create. Every change keeps comments and layout, is
//! validated before writing, and never leaves a broken file.

use std::os::unix::fs::PermissionsExt as _;

use doppel_e2e::{TestContext, run};

const FILE: &str = "\
# The web service: keep this comment.
[DEFAULT]
nodes = n1

; the application
[app#0]
type = test
start_depends = fs#1

[fs#1]
type = test
";

fn node() -> TestContext {
    let ctx = TestContext::new();
    ctx.write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
    ctx.service("web", FILE);
    ctx
}

fn file(ctx: &TestContext) -> String {
    std::fs::read_to_string(ctx.root().join("etc/doppel/services/web.conf")).unwrap()
}

#[test]
fn get_prints_a_value_as_written_or_in_force() {
    let ctx = node();
    let (code, stdout, _) = run(&mut ctx.doppel(["-s", "web", "get", "--kw", "DEFAULT.nodes"]));
    assert_eq!((code, stdout.as_str()), (0, "n1\n"));
    let (code, stdout, _) =
        run(&mut ctx.doppel(["-s", "web", "get", "--kw", "fs#1.initial", "--eval"]));
    assert_eq!(
        (code, stdout.as_str()),
        (0, "down\n"),
        "the driver's default"
    );
    let stderr = ctx.expect(&["-s", "web", "get", "--kw", "fs#1.initial"], 2);
    assert!(stderr.contains("fs#1.initial: not set in "), "{stderr}");
    let stderr = ctx.expect(&["-s", "web", "get", "--kw", "nodes"], 2);
    assert!(stderr.contains("expected <section>.<keyword>"), "{stderr}");
}

#[test]
fn set_and_unset_keep_the_layout_and_validate_first() {
    let ctx = node();
    let path = ctx.root().join("etc/doppel/services/web.conf");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    ctx.ok(&[
        "-s",
        "web",
        "set",
        "--kw",
        "fs#1.initial=up",
        "--kw",
        "DEFAULT.nodes=n1 n2",
    ]);
    assert_eq!(
        file(&ctx),
        FILE.replace("nodes = n1\n", "nodes = n1 n2\n").replace(
            "[fs#1]\ntype = test\n",
            "[fs#1]\ntype = test\ninitial = up\n"
        )
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o640, "mode kept");
    // An invalid result writes nothing.
    let before = file(&ctx);
    let stderr = ctx.expect(&["-s", "web", "set", "--kw", "fs#1.initial=sideways"], 2);
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:", path.display())),
        "names the real file: {stderr}"
    );
    assert_eq!(file(&ctx), before);
    ctx.expect(&["-s", "web", "set", "--kw", "fs#1.typo=1"], 2);
    assert_eq!(file(&ctx), before);
    // Unset.
    ctx.ok(&["-s", "web", "unset", "--kw", "fs#1.initial"]);
    assert!(!file(&ctx).contains("initial"));
    assert!(file(&ctx).starts_with("# The web service: keep this comment.\n"));
    ctx.expect(&["-s", "web", "unset", "--kw", "fs#1.initial"], 2);
    // No temporary file left behind.
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["web.conf"]);
}

#[test]
fn delete_refuses_what_others_depend_on_unless_forced() {
    let ctx = node();
    let stderr = ctx.expect(&["-s", "web", "delete", "--rid", "fs#1"], 2);
    assert!(
        stderr.contains("refusing to delete fs#1: the rest of service web depends on it"),
        "{stderr}"
    );
    assert!(stderr.contains("start_depends"), "{stderr}");
    assert_eq!(file(&ctx), FILE);
    ctx.ok(&["-s", "web", "delete", "--rid", "app#0"]);
    assert_eq!(
        file(&ctx),
        "# The web service: keep this comment.\n[DEFAULT]\nnodes = n1\n\n; the application\n[fs#1]\ntype = test\n"
    );
    let stderr = ctx.expect(&["-s", "web", "delete", "--rid", "app#9"], 2);
    assert!(
        stderr.contains("--rid app#9: no section [app#9] in the file"),
        "{stderr}"
    );
    // --force deletes anyway.
    ctx.service("web", FILE);
    ctx.ok(&["-s", "web", "delete", "--rid", "fs#1", "--force"]);
    assert!(!file(&ctx).contains("[fs#1]"));
}

#[test]
fn disable_and_enable_set_the_disable_keyword() {
    let ctx = node();
    ctx.ok(&["-s", "web", "disable", "--rid", "fs#1"]);
    assert!(
        file(&ctx).ends_with("[fs#1]\ntype = test\ndisable = true\n"),
        "{}",
        file(&ctx)
    );
    let (_, stdout, _) = run(&mut ctx.doppel([
        "-s",
        "web",
        "print",
        "status",
        "--refresh",
        "--format",
        "json",
    ]));
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc[0]["resources"][1]["disabled"], true);
    ctx.ok(&["-s", "web", "enable", "--rid", "fs#1"]);
    assert_eq!(file(&ctx), FILE);
    ctx.ok(&["-s", "web", "disable"]);
    assert!(file(&ctx).contains("[DEFAULT]\nnodes = n1\ndisable = true\n"));
    ctx.expect(&["-s", "web", "disable", "--rid", "ip#0"], 2);
}

#[test]
fn create_builds_a_validated_file_and_never_overwrites() {
    let ctx = node();
    ctx.ok(&[
        "-s",
        "api",
        "create",
        "--kw",
        "app#0.type=test",
        "--kw",
        "app#0.initial=up",
    ]);
    let text = std::fs::read_to_string(ctx.root().join("etc/doppel/services/api.conf")).unwrap();
    assert_eq!(text, "[app#0]\ntype = test\ninitial = up\n");
    ctx.ok(&["-s", "api", "validate"]);
    let stderr = ctx.expect(&["-s", "api", "create", "--kw", "app#0.type=test"], 2);
    assert!(stderr.contains("service api exists"), "{stderr}");
    // From a file, e.g. a template's output.
    let template = ctx.write("template.conf", "; a template\n[fs#1]\n;type = test\n");
    ctx.ok(&[
        "-s",
        "files",
        "create",
        "--config",
        template.to_str().unwrap(),
        "--kw",
        "fs#1.type=test",
    ]);
    let text = std::fs::read_to_string(ctx.root().join("etc/doppel/services/files.conf")).unwrap();
    assert_eq!(text, "; a template\n[fs#1]\ntype = test\n;type = test\n");
    // Invalid: nothing written.
    ctx.expect(
        &["-s", "bad", "create", "--kw", "fs#1.type=nosuchdriver"],
        2,
    );
    assert!(!ctx.root().join("etc/doppel/services/bad.conf").exists());
}

#[test]
fn edit_config_replaces_the_file_only_with_a_valid_edit() {
    let ctx = node();
    let editor = ctx.write(
        "editor.sh",
        "#!/bin/sh\nsed -i \"s/^nodes = .*$/$EDIT_TO/\" \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let edit = |to: &str| {
        run(ctx
            .doppel(["-s", "web", "edit", "config"])
            .env("EDITOR", editor.to_str().unwrap())
            .env("EDIT_TO", to)
            .stdin(std::process::Stdio::null()))
    };
    let (code, _, stderr) = edit("nodes = n1 n3");
    assert_eq!(code, 0, "{stderr}");
    assert!(file(&ctx).contains("nodes = n1 n3\n"));
    // A broken edit: reported, the file left as it was (no terminal to ask on).
    let (code, _, stderr) = edit("nodes = n1\\n[bogus");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("the edited file has 1 configuration error(s)"),
        "{stderr}"
    );
    assert!(stderr.contains("left as it was"), "{stderr}");
    assert!(file(&ctx).contains("nodes = n1 n3\n"));
    // No change.
    let (code, _, stderr) = edit("nodes = n1 n3");
    assert_eq!(code, 0);
    assert!(stderr.contains("web: no change"), "{stderr}");
}

#[test]
fn edit_config_on_a_terminal_reopens_the_editor_after_a_broken_edit() {
    let ctx = node();
    // First save: broken. Second: valid.
    let editor = ctx.write(
        "editor.sh",
        &format!(
            "#!/bin/sh\nn=$(cat {root}/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > {root}/count\n\
             if [ $n = 1 ]; then echo '[bogus' >> \"$1\"; else sed -i 's/^\\[bogus$//; s/^nodes = .*$/nodes = n1 n9/' \"$1\"; fi\n",
            root = ctx.root().display()
        ),
    );
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cmd = format!(
        "EDITOR={} {} --root {} -s web edit config",
        editor.display(),
        doppel_e2e::doppel_bin().display(),
        ctx.root().display()
    );
    // script(1) gives doppel a terminal; "y" answers "reopen the editor?".
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let _ = stdin.write_all(b"y\n");
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("reopen the editor? [Y/n]"), "{text}");
    assert_eq!(
        std::fs::read_to_string(ctx.root().join("count"))
            .unwrap()
            .trim(),
        "2"
    );
    assert!(file(&ctx).contains("nodes = n1 n9\n"), "{}", file(&ctx));
    assert!(!file(&ctx).contains("bogus"));
}
