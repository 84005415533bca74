//! High availability on Pacemaker (issue 19, docs/ha-pacemaker.md): the OCF resource
//! agent `packaging/ocf/service` (ocf:doppel:service) run directly, by
//! resource-agents' `ocf-tester` and by Pacemaker's `crm_resource` without a
//! cluster, on a lab service (SYMCLI simulator clones and an `app.script`
//! application); its meta-data against the OCF RA API DTD and schema; and
//! `orchestrate = ha`, which keeps `doppel daemon` from restarting what Pacemaker
//! manages while the scheduled syncs still run.
//!
//! `ocf-tester` (package resource-agents), `crm_resource` (pacemaker-cli-utils) and
//! `xmllint` (libxml2-utils) are installed by `.ci/run`; a test whose tool is missing
//! says SKIPPED and checks what it can without it, except in CI (`CI` set), where
//! a missing tool fails the test.
//!
//! crm_resource finds OCF agents only under the directory compiled into Pacemaker
//! (`/usr/lib/ocf/resource.d`, no environment override in 2.1). The test does not
//! install anything there: each crm_resource runs in its own mount namespace
//! (`unshare --mount`) where a temporary `resource.d` holding `doppel/service` is
//! bind-mounted over that directory, so the real /usr is never changed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use doppel_e2e::{TestContext, doppel_bin, run, target_dir, workspace_root};

const SID: &str = "000197900123";
const OCF_NOT_RUNNING: i32 = 7;

/// Says why a check cannot run here and lets the test pass on a developer's
/// machine; in CI, where `.ci/run` installs every tool, it is a failure.
#[track_caller]
fn skip(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "required in CI (.ci/run installs it): {why}"
    );
    eprintln!("SKIPPED: {why}");
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The agent as shipped.
fn agent_source() -> PathBuf {
    workspace_root().join("packaging/ocf/service")
}

/// Waits until `path`, just written, can be executed: while another test thread
/// forks between this one's opening the file for writing and closing it, the
/// child holds the file open for writing until it execs, and executing the file
/// fails with ETXTBSY ("Text file busy"). Once one exec succeeds, no such child
/// is left and no new one can appear.
fn settle(path: &Path) {
    for _ in 0..200 {
        match Command::new(path)
            .arg("--settle")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
        {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            _ => return,
        }
    }
    panic!("{} stays busy", path.display());
}

/// resource-agents' shell library, where Debian installs it.
const SHELLFUNCS: &str = "/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs";

/// Which helper functions the agent runs with.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Funcs {
    /// resource-agents' ocf-shellfuncs (the agent's default).
    Shellfuncs,
    /// The agent's own fallbacks, as where resource-agents is not installed.
    Fallback,
}

/// A root on node n1 with the SYMCLI simulator's array and a copy of the agent in a
/// directory everyone can read (ocf-tester runs `meta-data` as nobody).
struct Ha {
    ctx: TestContext,
    /// `<dir>/doppel/service`: an OCF `resource.d` layout.
    ocf: tempfile::TempDir,
    /// `$HA_RSCTMP`, where the agent keeps its state files.
    rsctmp: PathBuf,
    /// An empty directory: `OCF_FUNCTIONS_DIR` for [`Funcs::Fallback`].
    no_funcs: PathBuf,
    funcs: Funcs,
}

impl Ha {
    fn new(funcs: Funcs) -> Ha {
        let mut ctx = TestContext::new();
        ctx.write(
            "etc/doppel/doppel.toml",
            &format!(
                "nodename = \"n1\"\n\n[driver.symclone]\nbin = \"{}\"\n",
                target_dir().display()
            ),
        );
        ctx.env(
            "DOPPEL_SIM_ROOT",
            ctx.root().join("sim").display().to_string(),
        );
        ctx.env("DOPPEL_SIM_TIME_SCALE", "0.01");
        ctx.env("DOPPEL_SYMCLONE_POLL_MS", "50");
        let ocf = tempfile::Builder::new()
            .prefix("doppel-ocf-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(ocf.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = ocf.path().join("doppel");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::copy(agent_source(), dir.join("service")).unwrap();
        std::fs::set_permissions(dir.join("service"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        settle(&dir.join("service"));
        let rsctmp = ctx.root().join("rsctmp");
        let no_funcs = ctx.root().join("no-ocf-functions");
        std::fs::create_dir_all(&no_funcs).unwrap();
        Ha {
            ctx,
            ocf,
            rsctmp,
            no_funcs,
            funcs,
        }
    }

    fn agent(&self) -> PathBuf {
        self.ocf.path().join("doppel/service")
    }

    fn root(&self) -> &Path {
        self.ctx.root()
    }

    /// A file under the root.
    fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Writes a service file, `@ROOT@` being the root.
    fn service(&self, name: &str, text: &str) {
        self.ctx.service(
            name,
            &text.replace("@ROOT@", &self.root().display().to_string()),
        );
    }

    /// Writes an executable script under the root.
    fn script(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.ctx.write(rel, text);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        settle(&p);
        p
    }

    /// The environment every tool running the agent gets: the simulator's, the
    /// state directory, and the helper functions chosen.
    fn base_env(&self, cmd: &mut Command) {
        self.ctx.tool_env(cmd);
        cmd.env("HA_RSCTMP", &self.rsctmp);
        if self.funcs == Funcs::Fallback {
            cmd.env("OCF_FUNCTIONS_DIR", &self.no_funcs);
        }
    }

    /// Runs `agent <action>` as Pacemaker would: OCF_* variables, `params` as
    /// `OCF_RESKEY_<name>` (root and doppel default to the test's unless given).
    fn run_agent(&self, action: &str, params: &[(&str, &str)], env: &[(&str, &str)]) -> Out {
        let mut cmd = Command::new(self.agent());
        self.base_env(&mut cmd);
        cmd.env("OCF_ROOT", "/usr/lib/ocf")
            .env("OCF_RA_VERSION_MAJOR", "1")
            .env("OCF_RA_VERSION_MINOR", "1")
            .env("OCF_RESOURCE_INSTANCE", "rsc")
            .env("OCF_RESKEY_CRM_meta_timeout", "20000")
            .env("OCF_RESKEY_root", self.root())
            .env("OCF_RESKEY_doppel", doppel_bin());
        for (k, v) in params {
            cmd.env(format!("OCF_RESKEY_{k}"), v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        if !action.is_empty() {
            cmd.arg(action);
        }
        let (code, stdout, stderr) = run(&mut cmd);
        Out {
            code,
            stdout,
            stderr,
        }
    }

    /// `agent <action>` on service `svc`; `monitor` is a recurring one.
    fn act(&self, action: &str, svc: &str) -> Out {
        self.run_agent(
            action,
            &[("service", svc)],
            &[("OCF_RESKEY_CRM_meta_interval", "30000")],
        )
    }

    /// A probe: `monitor` with interval 0.
    fn probe(&self, params: &[(&str, &str)]) -> Out {
        self.run_agent("monitor", params, &[("OCF_RESKEY_CRM_meta_interval", "0")])
    }

    fn state_file(&self) -> PathBuf {
        self.rsctmp.join("doppel-service-rsc.started")
    }

    /// A simulator tool with the test's environment.
    fn sim_ok(&self, tool: &str, args: &[&str]) -> String {
        let mut cmd = Command::new(target_dir().join(tool));
        self.base_env(&mut cmd);
        cmd.current_dir(self.root()).args(args);
        let (code, stdout, stderr) = run(&mut cmd);
        assert_eq!(code, 0, "{tool} {args:?}\n{stdout}\n{stderr}");
        stdout
    }

    /// The lab's service `demo` on the simulated array: [`Ha::lab_array`] and
    /// [`Ha::lab_service_file`] for node n1.
    fn lab_service(&self) {
        self.lab_array();
        self.lab_service_file("n1");
    }

    /// The simulated array with two clone pairs whose sessions are created (as an
    /// array admin would), not active.
    fn lab_array(&self) {
        self.sim_ok(
            "symsim",
            &[
                "array",
                "create",
                SID,
                "--devs",
                "00B60:00B63",
                "--copy-seconds",
                "0",
            ],
        );
        let pairs = self.ctx.write("setup-pairs", "00B60 00B61\n00B62 00B63");
        self.sim_ok(
            "symclone",
            &[
                "-sid",
                SID,
                "-f",
                &pairs.display().to_string(),
                "create",
                "-differential",
                "-precopy",
                "-noprompt",
            ],
        );
    }

    /// Service `demo` on `nodes`: the clones, activated by start, and the
    /// application using them, up while `<root>/app.state` exists.
    fn lab_service_file(&self, nodes: &str) {
        self.script(
            "app.sh",
            "#!/bin/sh\nstate=\"$(dirname \"$0\")/app.state\"\ncase \"$1\" in\n  start) echo \"app started\"; touch \"$state\" ;;\n  stop) echo \"app stopped\"; rm -f \"$state\" ;;\n  check) test -f \"$state\" ;;\nesac\n",
        );
        self.service(
            "demo",
            &format!(
                "[DEFAULT]\nnodes = {nodes}\norchestrate = ha\n\n\
                 [sync#0]\ntype = symclone\nsymid = 000197900123\npairs = 00B60:00B61 00B62:00B63\n\
                 rescan = false\n\n\
                 [app#0]\ntype = script\nstart = @ROOT@/app.sh start\nstop = @ROOT@/app.sh stop\n\
                 check = @ROOT@/app.sh check\nstart_depends = sync#0\n"
            ),
        );
    }

    /// `<tgt> <state>` of every clone session.
    fn clone_states(&self) -> Vec<String> {
        let doc: serde_json::Value =
            serde_json::from_str(&self.sim_ok("symsim", &["array", "show", SID])).unwrap();
        doc["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p["tgt"].as_str().unwrap(),
                    p["state"].as_str().unwrap()
                )
            })
            .collect()
    }

    fn app_up(&self) -> bool {
        self.path("app.state").exists()
    }

    fn service_log(&self, svc: &str) -> String {
        std::fs::read_to_string(self.path(&format!("var/log/doppel/{svc}.log"))).unwrap_or_default()
    }
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The helper-function variants to test: the fallbacks always, resource-agents'
/// ocf-shellfuncs where it is installed.
fn variants() -> Vec<Funcs> {
    let mut v = vec![Funcs::Fallback];
    if Path::new(SHELLFUNCS).is_file() {
        v.push(Funcs::Shellfuncs);
    } else {
        skip("with ocf-shellfuncs: resource-agents is not installed (.ci/run installs it)");
    }
    v
}

#[track_caller]
fn expect(out: &Out, code: i32, what: &str) {
    assert_eq!(out.code, code, "{what}: {out}");
}

// --- meta-data -----------------------------------------------------------------------------

#[test]
fn meta_data_declares_the_parameters_and_timeouts_and_conforms_to_the_ra_api() {
    let ha = Ha::new(Funcs::Fallback);
    // meta-data needs nothing: no service, no doppel (as Pacemaker asks it anywhere).
    let out = ha.run_agent("meta-data", &[("doppel", "/nonexistent")], &[]);
    expect(&out, 0, "meta-data");
    let xml = &out.stdout;
    for want in [
        "<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">",
        "<resource-agent name=\"service\" version=\"1.0\">",
        "<parameter name=\"service\" unique=\"1\" required=\"1\">",
        "<content type=\"string\" default=\"/\" />",
        "<content type=\"string\" default=\"/usr/bin/doppel\" />",
        "<parameter name=\"options\" unique=\"0\" required=\"0\">",
        // lock_timeout (60s) + one command's timeout (300s); a status query's 120s.
        "<action name=\"start\" timeout=\"360s\" />",
        "<action name=\"stop\" timeout=\"360s\" />",
        "<action name=\"monitor\" timeout=\"120s\" interval=\"30s\" depth=\"0\" />",
        "<action name=\"validate-all\" timeout=\"30s\" />",
        "<action name=\"meta-data\" timeout=\"5s\" />",
    ] {
        assert!(xml.contains(want), "missing {want:?} in:\n{xml}");
    }
    assert!(!xml.contains("promote"), "{xml}");

    let ra_dir = Path::new("/usr/share/resource-agents");
    if !have("xmllint") || !ra_dir.join("ra-api-1.dtd").is_file() {
        skip("xmllint or resource-agents' ra-api-1.dtd missing (.ci/run installs them)");
        return;
    }
    // As ocf-tester checks it: against ra-api-1.dtd, from the DTD's directory.
    // On standard input, so that the DTD's relative SYSTEM id resolves there.
    let xmllint = |args: &[&str], doc: &str| -> (i32, String) {
        let meta = ha.path("meta-data.xml");
        std::fs::write(&meta, doc).unwrap();
        let (code, _, stderr) = run(Command::new("sh")
            .current_dir(ra_dir)
            .arg("-c")
            .arg("f=$1; shift; exec xmllint \"$@\" - < \"$f\"")
            .arg("sh")
            .arg(&meta)
            .args(args));
        (code, stderr)
    };
    assert_eq!(
        xmllint(&["--noout", "--valid"], xml),
        (0, String::new()),
        "ra-api-1.dtd"
    );
    let rng = ra_dir.join("metadata.rng");
    if rng.is_file() {
        let (code, stderr) = xmllint(&["--noout", "--relaxng", rng.to_str().unwrap()], xml);
        assert_eq!(code, 0, "metadata.rng: {stderr}");
        assert!(stderr.contains(" validates"), "{stderr}");
    }
    // A broken document is refused: the check is real.
    let broken = xml.replace("<version>1.0</version>", "");
    assert_ne!(
        xmllint(&["--noout", "--valid"], &broken).0,
        0,
        "a resource-agent without <version> must not validate"
    );
}

// --- exit codes ----------------------------------------------------------------------------

#[test]
fn start_stop_monitor_are_idempotent_and_map_to_ocf_codes() {
    for funcs in variants() {
        let ha = Ha::new(funcs);
        ha.service(
            "web",
            "[DEFAULT]\nnodes = n1\norchestrate = ha\n\n[app#0]\ntype = script\n\
             start = touch @ROOT@/app.state\nstop = rm -f @ROOT@/app.state\n\
             check = test -f @ROOT@/app.state\n",
        );
        let ctx = format!("{funcs:?}");
        expect(&ha.act("validate-all", "web"), 0, &ctx);
        expect(&ha.act("monitor", "web"), OCF_NOT_RUNNING, &ctx);
        expect(&ha.probe(&[("service", "web")]), OCF_NOT_RUNNING, &ctx);
        expect(&ha.act("start", "web"), 0, &ctx);
        assert!(ha.app_up(), "{ctx}: start started the application");
        expect(&ha.act("monitor", "web"), 0, &ctx);
        expect(&ha.probe(&[("service", "web")]), 0, &ctx);
        let again = ha.act("start", "web");
        expect(&again, 0, &ctx);
        assert!(
            again.stderr.contains("service web is already up"),
            "{ctx}: {again}"
        );
        expect(&ha.act("stop", "web"), 0, &ctx);
        assert!(!ha.app_up(), "{ctx}: stop stopped the application");
        expect(&ha.act("monitor", "web"), OCF_NOT_RUNNING, &ctx);
        let again = ha.act("stop", "web");
        expect(&again, 0, &ctx);
        assert!(
            again.stderr.contains("service web is already down"),
            "{ctx}: {again}"
        );
        // What ran went through doppel: its log has the application's commands.
        let log = ha.service_log("web");
        assert_eq!(
            log.matches(" - INFO - touch ").count(),
            1,
            "{ctx}: one real start:\n{log}"
        );
        assert_eq!(
            log.matches(" - INFO - rm -f ").count(),
            1,
            "{ctx}: one real stop:\n{log}"
        );

        // Usage: no action is 2, an action the agent does not have is 3.
        expect(&ha.act("", "web"), 2, &ctx);
        expect(&ha.act("promote", "web"), 3, &ctx);
        expect(&ha.act("usage", "web"), 0, &ctx);
    }
}

#[test]
fn configuration_and_installation_problems_have_their_ocf_codes() {
    for funcs in variants() {
        let ha = Ha::new(funcs);
        let ctx = format!("{funcs:?}");
        // No service parameter, or not a service name: not configured (6).
        let out = ha.run_agent("validate-all", &[], &[]);
        expect(&out, 6, &ctx);
        assert!(
            out.stderr
                .contains("ocf-exit-reason:parameter service is required"),
            "{ctx}: {out}"
        );
        expect(
            &ha.run_agent("validate-all", &[("service", "a*")], &[]),
            6,
            &ctx,
        );

        // The service file is not on this node: not installed (5); a probe says not
        // running (7) and a stop succeeds, as nothing of it can run here.
        let out = ha.act("validate-all", "absent");
        expect(&out, 5, &ctx);
        assert!(
            out.stderr
                .contains("service absent is not installed on this node: "),
            "{ctx}: {out}"
        );
        expect(&ha.act("monitor", "absent"), 5, &ctx);
        expect(&ha.probe(&[("service", "absent")]), OCF_NOT_RUNNING, &ctx);
        expect(&ha.act("stop", "absent"), 0, &ctx);

        // doppel is not installed: 5, and a probe 7.
        ha.service("web", "[app#0]\ntype = script\nstart = true\n");
        let missing = [("service", "web"), ("doppel", "/nonexistent/doppel")];
        let out = ha.run_agent("validate-all", &missing, &[]);
        expect(&out, 5, &ctx);
        assert!(
            out.stderr.contains("/nonexistent/doppel is not installed"),
            "{ctx}: {out}"
        );
        expect(&ha.probe(&missing), OCF_NOT_RUNNING, &ctx);

        // An invalid service file: not configured (6), doppel's error in the reason.
        ha.service(
            "bad",
            "[DEFAULT]\norchestrate = maybe\n\n[app#0]\ntype = script\n",
        );
        for action in ["validate-all", "start"] {
            let out = ha.act(action, "bad");
            expect(&out, 6, &ctx);
            assert!(
                out.stderr.contains(
                    "bad.conf:2: DEFAULT.orchestrate: invalid value \"maybe\": expected one of no, ha"
                ),
                "{ctx} {action}: {out}"
            );
        }

        // Without orchestrate = ha the service is accepted, with a warning.
        let out = ha.act("validate-all", "web");
        expect(&out, 0, &ctx);
        assert!(
            out.stderr
                .contains("service web does not set orchestrate = ha in its DEFAULT section"),
            "{ctx}: {out}"
        );
    }
}

#[test]
fn a_failed_start_is_a_generic_error_and_a_node_outside_nodes_an_invalid_argument() {
    for funcs in variants() {
        let ha = Ha::new(funcs);
        let ctx = format!("{funcs:?}");
        ha.service(
            "web",
            "[DEFAULT]\nnodes = n1\norchestrate = ha\n\n[app#0]\ntype = script\n\
             start = false\ncheck = test -f @ROOT@/app.state\n",
        );
        // The start command fails: doppel exits 1, the agent 1.
        let out = ha.act("start", "web");
        expect(&out, 1, &ctx);
        assert!(
            out.stderr
                .contains("ocf-exit-reason:doppel -s web start failed (exit 1, see the log)"),
            "{ctx}: {out}"
        );
        assert!(
            !ha.state_file().exists(),
            "{ctx}: a failed start leaves no state"
        );

        // A node that is not one of the service's nodes: doppel refuses the start
        // with exit 2, the agent says OCF_ERR_ARGS (2), a local problem, so
        // Pacemaker keeps off this node and may place the service elsewhere. A
        // probe says not running and a stop succeeds: nothing of it runs here (a
        // failed stop would get the node fenced).
        ha.service(
            "elsewhere",
            "[DEFAULT]\nnodes = n2\norchestrate = ha\n\n[app#0]\ntype = script\n\
             start = touch @ROOT@/app.state\nstop = rm -f @ROOT@/app.state\n\
             check = test -f @ROOT@/app.state\n",
        );
        expect(&ha.act("validate-all", "elsewhere"), 0, &ctx);
        expect(
            &ha.probe(&[("service", "elsewhere")]),
            OCF_NOT_RUNNING,
            &ctx,
        );
        let out = ha.act("start", "elsewhere");
        expect(&out, 2, &ctx);
        assert!(
            out.stderr.contains(
                "doppel -s elsewhere start was refused on this node (exit 2, see the log)"
            ) && out
                .stderr
                .contains("this node (n1) is not in nodes (n2) or drpnodes"),
            "{ctx}: {out}"
        );
        assert!(!ha.app_up(), "{ctx}: nothing ran");
        let out = ha.act("stop", "elsewhere");
        expect(&out, 0, &ctx);
        assert!(out.stderr.contains("nothing to stop"), "{ctx}: {out}");
        expect(&ha.act("monitor", "elsewhere"), OCF_NOT_RUNNING, &ctx);
    }
}

#[test]
fn monitor_maps_the_avail_and_overall_status_to_ocf_codes() {
    for funcs in variants() {
        let ha = Ha::new(funcs);
        let ctx = format!("{funcs:?}");
        // The application died while its file system is still up: avail warn, an
        // error (1) Pacemaker recovers, naming what is not up.
        ha.service(
            "crashed",
            "[DEFAULT]\nnodes = n1\norchestrate = ha\n\n[fs#1]\ntype = test\ninitial = up\n\n\
             [app#0]\ntype = script\nstart = true\ncheck = test -f @ROOT@/app.state\n",
        );
        let out = ha.act("monitor", "crashed");
        expect(&out, 1, &ctx);
        assert!(
            out.stderr
                .contains("service crashed is warn, part of it is not up: app#0 down"),
            "{ctx}: {out}"
        );
        // A resource reporting warn itself: the same.
        ha.service(
            "degraded",
            "[DEFAULT]\nnodes = n1\norchestrate = ha\n\n[app#0]\ntype = test\ninitial = up\n\n\
             [fs#1]\ntype = test\nstatus = warn\n",
        );
        let out = ha.act("monitor", "degraded");
        expect(&out, 1, &ctx);
        assert!(
            out.stderr
                .contains("service degraded is warn, part of it is not up: fs#1 warn"),
            "{ctx}: {out}"
        );
        // A late sync stays out of avail (up), in overall (warn): running (0), with
        // a warning naming it; moving the application would not refresh the clone.
        ha.service(
            "late",
            "[DEFAULT]\nnodes = n1\norchestrate = ha\n\n[app#0]\ntype = test\ninitial = up\n\n\
             [sync#0]\ntype = test\nstatus = warn\n",
        );
        let out = ha.act("monitor", "late");
        expect(&out, 0, &ctx);
        assert!(
            out.stderr
                .contains("service late is running, overall warn: sync#0 warn"),
            "{ctx}: {out}"
        );
        // A resource doppel cannot tell the state of, and nothing else reporting one:
        // the service aggregates to n/a (undef is the merge's identity), and the
        // agent cannot call it running, even after starting it: error (1).
        ha.service(
            "unknown",
            "[DEFAULT]\nnodes = n1\norchestrate = ha\n\n[fs#1]\ntype = test\nstatus = undef\n",
        );
        expect(&ha.act("start", "unknown"), 1, &ctx);
        let out = ha.act("monitor", "unknown");
        expect(&out, 1, &ctx);
        assert!(
            out.stderr
                .contains("service unknown status is n/a with undef resources: fs#1"),
            "{ctx}: {out}"
        );
        ha.act("stop", "unknown");
        // An avail of undef (doppel does not aggregate to it today; a wrapper plays
        // one that does): error (1).
        let undef = ha.script(
            "undef-doppel",
            &format!(
                "#!/bin/sh\n'{}' \"$@\" | sed 's/\"avail\": \"[^\"]*\"/\"avail\": \"undef\"/'\n",
                doppel_bin().display()
            ),
        );
        let out = ha.run_agent(
            "monitor",
            &[("service", "late"), ("doppel", undef.to_str().unwrap())],
            &[("OCF_RESKEY_CRM_meta_interval", "30000")],
        );
        expect(&out, 1, &ctx);
        assert!(
            out.stderr.contains("service late status is undef"),
            "{ctx}: {out}"
        );

        // n/a (nothing reports a state: an application without a check): running
        // once this agent started it on this node, until it stops it.
        ha.service(
            "blind",
            "[DEFAULT]\nnodes = n1\norchestrate = ha\n\n[app#0]\ntype = script\n\
             start = touch @ROOT@/app.state\nstop = rm -f @ROOT@/app.state\n",
        );
        expect(&ha.act("monitor", "blind"), OCF_NOT_RUNNING, &ctx);
        expect(&ha.act("start", "blind"), 0, &ctx);
        assert!(ha.app_up() && ha.state_file().exists(), "{ctx}");
        expect(&ha.act("monitor", "blind"), 0, &ctx);
        expect(&ha.act("stop", "blind"), 0, &ctx);
        assert!(!ha.app_up() && !ha.state_file().exists(), "{ctx}");
        expect(&ha.act("monitor", "blind"), OCF_NOT_RUNNING, &ctx);
    }
}

// --- the real tools ------------------------------------------------------------------------

#[test]
fn ocf_tester_passes_every_check_on_the_lab_service() {
    if !have("ocf-tester") {
        skip("ocf-tester is not installed (apt-get install resource-agents; .ci/run does it)");
        return;
    }
    let ha = Ha::new(Funcs::Shellfuncs);
    ha.lab_service();
    assert_eq!(ha.clone_states(), ["00B61 Precopy", "00B63 Precopy"]);
    let mut cmd = Command::new("ocf-tester");
    ha.base_env(&mut cmd);
    cmd.args(["-n", "demo", "-o", "service=demo", "-o"])
        .arg(format!("root={}", ha.root().display()))
        .arg("-o")
        .arg(format!("doppel={}", doppel_bin().display()))
        .arg(ha.agent());
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 0, "ocf-tester:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("{} passed all tests", ha.agent().display())),
        "{stdout}"
    );
    assert!(!stdout.contains("* rc="), "a check failed:\n{stdout}");
    // It really started and stopped the service: the clones were activated by the
    // first start, the application started twice and stopped twice, and is down.
    assert_eq!(ha.clone_states(), ["00B61 Copied", "00B63 Copied"]);
    assert!(!ha.app_up());
    let log = ha.service_log("demo");
    assert_eq!(
        log.matches("* DEMO.APP#0 - INFO - app started").count(),
        2,
        "{log}"
    );
    assert_eq!(
        log.matches("* DEMO.APP#0 - INFO - app stopped").count(),
        2,
        "{log}"
    );
    assert!(
        log.contains("-noprompt activate -i 20 -c 30 -consistent"),
        "{log}"
    );
}

/// Runs `crm_resource <args>` in a private mount namespace where `ocf` is
/// `/usr/lib/ocf/resource.d`. None when this machine cannot (not root, no
/// unshare, no such directory).
fn crm_resource(ha: &Ha, args: &[String]) -> Option<Out> {
    let mut cmd = Command::new("unshare");
    ha.base_env(&mut cmd);
    cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount --bind \"$1\" /usr/lib/ocf/resource.d || exit 99; shift; exec crm_resource \"$@\"")
        .arg("sh")
        .arg(ha.ocf.path())
        .args(args);
    let (code, stdout, stderr) = run(&mut cmd);
    if code == 99 || (code != 0 && stderr.contains("unshare: ")) {
        skip(&format!(
            "crm_resource: cannot bind-mount in a private namespace: {stderr}"
        ));
        return None;
    }
    Some(Out {
        code,
        stdout,
        stderr,
    })
}

#[test]
fn crm_resource_validates_starts_checks_and_stops_the_agent_without_a_cluster() {
    if !have("crm_resource") || !have("unshare") || !Path::new("/usr/lib/ocf/resource.d").is_dir() {
        skip(
            "crm_resource is not installed (apt-get install pacemaker-cli-utils resource-agents; .ci/run does it)",
        );
        return;
    }
    let ha = Ha::new(Funcs::Shellfuncs);
    ha.lab_service();
    let op = |op: &str, service: &str| -> Vec<String> {
        [
            op,
            "--class",
            "ocf",
            "--provider",
            "doppel",
            "--agent",
            "service",
            "--option",
            &format!("service={service}"),
            "--option",
            &format!("root={}", ha.root().display()),
            "--option",
            &format!("doppel={}", doppel_bin().display()),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let Some(out) = crm_resource(&ha, &op("--validate", "demo")) else {
        return;
    };
    expect(&out, 0, "crm_resource --validate");
    assert!(
        out.stdout
            .contains("Operation validate (ocf:doppel:service) returned 0 (ok)"),
        "{out}"
    );
    let out = crm_resource(&ha, &op("--validate", "absent")).unwrap();
    expect(
        &out,
        5,
        "crm_resource --validate of a service not on this node",
    );
    assert!(
        out.stdout
            .contains("returned 5 (not installed: service absent is not installed on this node"),
        "{out}"
    );
    // Pacemaker reads the meta-data as it would to configure the resource.
    let out = crm_resource(
        &ha,
        &["--show-metadata".into(), "ocf:doppel:service".into()],
    )
    .unwrap();
    expect(&out, 0, "crm_resource --show-metadata");
    assert!(
        out.stdout.contains("<resource-agent name=\"service\""),
        "{out}"
    );

    // --force-* run the agent's start, monitor and stop on this node, no cluster.
    let out = crm_resource(&ha, &op("--force-check", "demo")).unwrap();
    expect(&out, OCF_NOT_RUNNING, "--force-check before start");
    assert!(out.stdout.contains("returned 7 (not running)"), "{out}");
    let out = crm_resource(&ha, &op("--force-start", "demo")).unwrap();
    expect(&out, 0, "--force-start");
    assert!(ha.app_up(), "the application runs: {out}");
    assert_eq!(ha.clone_states(), ["00B61 Copied", "00B63 Copied"]);
    expect(
        &crm_resource(&ha, &op("--force-check", "demo")).unwrap(),
        0,
        "--force-check after start",
    );
    let out = crm_resource(&ha, &op("--force-stop", "demo")).unwrap();
    expect(&out, 0, "--force-stop");
    assert!(!ha.app_up(), "the application stopped: {out}");
    expect(
        &crm_resource(&ha, &op("--force-check", "demo")).unwrap(),
        OCF_NOT_RUNNING,
        "--force-check after stop",
    );
    let log = ha.service_log("demo");
    assert!(log.contains("* DEMO.APP#0 - INFO - app started"), "{log}");
    assert!(log.contains("* DEMO.APP#0 - INFO - app stopped"), "{log}");
}

/// Two nodes seeing the same (simulated) array, each with its own doppel root
/// and the same service file: the clones are activated by the node that takes
/// the service.
#[test]
fn a_clone_service_is_activated_on_the_node_that_takes_it() {
    let n1 = Ha::new(Funcs::Fallback);
    n1.lab_array();
    n1.lab_service_file("n1 n2");
    let mut n2 = Ha::new(Funcs::Fallback);
    n2.ctx.write(
        "etc/doppel/doppel.toml",
        &format!(
            "nodename = \"n2\"\n\n[driver.symclone]\nbin = \"{}\"\n",
            target_dir().display()
        ),
    );
    // n2 sees n1's array.
    n2.ctx.env(
        "DOPPEL_SIM_ROOT",
        n1.root().join("sim").display().to_string(),
    );
    n2.lab_service_file("n1 n2");
    let activate = "-noprompt activate -i 20 -c 30 -consistent";

    // Pacemaker starts it on n1: n1 activates the clones and runs the application.
    expect(&n1.act("start", "demo"), 0, "start on n1");
    assert_eq!(n1.clone_states(), ["00B61 Copied", "00B63 Copied"]);
    assert!(n1.app_up() && !n2.app_up());
    assert!(n1.service_log("demo").contains(activate));
    expect(
        &n2.probe(&[("service", "demo")]),
        OCF_NOT_RUNNING,
        "probe on n2",
    );

    // It moves: stopped on n1; the clones are re-created from production
    // meanwhile (not active: unusable until a start activates them).
    expect(&n1.act("stop", "demo"), 0, "stop on n1");
    assert!(!n1.app_up());
    n1.ctx.ok(&["-s", "demo", "sync", "resync"]);
    assert!(
        n1.clone_states().iter().all(|s| !s.ends_with("Copied")),
        "{:?}",
        n1.clone_states()
    );

    // Started on n2: n2 activates the clones, then starts the application there.
    expect(&n2.act("start", "demo"), 0, "start on n2");
    assert_eq!(n1.clone_states(), ["00B61 Copied", "00B63 Copied"]);
    assert!(n2.app_up() && !n1.app_up());
    let log = n2.service_log("demo");
    assert!(log.contains(activate), "n2 activated the clones:\n{log}");
    expect(&n2.act("monitor", "demo"), 0, "monitor on n2");
    expect(&n1.act("monitor", "demo"), OCF_NOT_RUNNING, "monitor on n1");
    expect(&n2.act("stop", "demo"), 0, "stop on n2");
}

/// The clone service of docs/ha-pacemaker.md is a valid service on its nodes.
#[test]
fn the_documented_clone_service_validates() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/ha-pacemaker.md")).unwrap();
    let start = doc.find("```ini\n").expect("an ini block") + "```ini\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let ha = Ha::new(Funcs::Fallback);
    ha.ctx.write(
        "etc/doppel/doppel.toml",
        &format!(
            "nodename = \"node1\"\n\n[driver.symclone]\nbin = \"{}\"\n",
            target_dir().display()
        ),
    );
    ha.service("demo", &doc[start..end]);
    let (code, stdout, stderr) = run(&mut ha.ctx.doppel(["-s", "demo", "validate"]));
    assert_eq!((code, stdout.as_str()), (0, "demo: ok\n"), "{stderr}");
    let (code, stdout, stderr) = run(&mut ha
        .ctx
        .doppel(["-s", "demo", "print", "schedule", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    // As the page says: no scheduled refresh of clones on a shared array, and no
    // restart monitor (orchestrate = ha); only the status refresh.
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let actions: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["status"], "{stdout}");
}

// --- doppel daemon and Pacemaker -----------------------------------------------------------

/// `<rid> <action>` of every recorded test-driver call.
fn calls(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn the_daemon_does_not_restart_an_ha_service_but_runs_its_scheduled_syncs() {
    const MONDAY: &str = "2024-05-06T00:30:00Z";
    let conf = |orchestrate: &str| {
        format!(
            "[DEFAULT]\nnodes = n1\n{orchestrate}\n\
             [app#0]\ntype = test\ninitial = up\n\n\
             [fs#1]\ntype = test\nrestart = 2\nrecord = @ROOT@/calls\n\n\
             [sync#0]\ntype = test\nschedule = 00:00-01:00@61 mon\nrecord = @ROOT@/calls\n"
        )
    };
    for (orchestrate, want) in [
        ("orchestrate = ha\n", vec!["sync#0 sync_update"]),
        // The same service left to doppel: fs#1 is down, the daemon restarts it.
        ("", vec!["fs#1 start", "sync#0 sync_update"]),
    ] {
        let ha = Ha::new(Funcs::Fallback);
        ha.ctx
            .write("etc/doppel/doppel.toml", "nodename = \"n1\"\n");
        ha.service("demo", &conf(orchestrate));
        let (code, _, stderr) = run(&mut ha.ctx.doppel(["daemon", "--once", "--now", MONDAY]));
        assert_eq!(code, 0, "{stderr}");
        let mut got = calls(&ha.path("calls"));
        got.sort();
        assert_eq!(got, want, "{orchestrate:?}: {stderr}");
        // print schedule lists a restart monitor only for the service doppel recovers.
        let (code, stdout, stderr) = run(&mut ha
            .ctx
            .doppel(["-s", "demo", "print", "schedule", "--format", "json"]));
        assert_eq!(code, 0, "{stderr}");
        let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let restarts = rows
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "restart")
            .count();
        assert_eq!(restarts, usize::from(orchestrate.is_empty()), "{stdout}");
    }
}
