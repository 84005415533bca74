//! `disk.alt_disk`: clone the running AIX rootvg to alternate disks with
//! `alt_disk_copy`, refresh the clone, wake it up, put it to sleep, remove it.
//!
//! Tools are found where AIX installs them: `/usr/sbin/alt_disk_copy`,
//! `/usr/sbin/alt_rootvg_op`, `/usr/sbin/lspv` and `/usr/bin/bootlist`. The node
//! config's `[driver.alt_disk]` table relocates them (see [`NODE_CONFIG_KEYS`]):
//! `bin = "<dir>"` takes all four from one directory, and a key named after a tool
//! (`bootlist = "/opt/site/bin/bootlist"`) gives that one tool's full path, which
//! wins over `bin`.
//!
//! - `provision`: `alt_disk_copy -d "<disks>" [flags]`; `--phase 1|2|3|12|23|all`
//!   becomes `-P<phase>`;
//! - `sync_update` (refresh): `alt_rootvg_op -X altinst_rootvg` when the targets
//!   hold the clone, then `alt_disk_copy` again;
//! - `unprovision`: `alt_rootvg_op -X altinst_rootvg`;
//! - `wake`: `alt_rootvg_op -W -d <first disk>`; `sleep`: `alt_rootvg_op -S`.
//!
//! Every action first reads `lspv` and refuses to touch a target disk that belongs
//! to a volume group other than altinst_rootvg, naming the disk and the group.
//!
//! Status: `lspv` (targets in altinst_rootvg → up), `bootlist -m normal -o` (which
//! disk boots next, as info), the clone time the driver records, checked against
//! `sync_max_delay` by the driver itself (doppel applies it to the sync group
//! only), and an `old_rootvg` left by a boot from the clone.

use std::collections::BTreeSet;
use std::time::Duration;

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, CommandRequest, Driver, Error, Host, InterruptedRun,
    KeywordSpec, KeywordType, Manifest, OptionSpec, Problem, RECONCILE_METHOD, ResourceConfig,
    Status, StatusReport,
};

mod commands;
mod config;
mod layout;
mod phases;
mod status;

pub use config::NODE_CONFIG_KEYS;
use config::node_config_problems;
use layout::is_disk_name;
use phases::{Phases, phases_text};

/// The volume group alt_disk_copy creates.
const ALTINST: &str = "altinst_rootvg";
const ROOTVG: &str = "rootvg";
const OLD_ROOTVG: &str = "old_rootvg";
/// Time limit of lspv and bootlist.
const QUERY_TIMEOUT: Duration = Duration::from_secs(120);
/// Time limit of alt_rootvg_op.
const OP_TIMEOUT: Duration = Duration::from_secs(3600);
/// Default of `copy_timeout`.
const DEFAULT_COPY_TIMEOUT: &str = "3h";

/// Keys of the driver's stored state.
const KEY_CLONED_AT: &str = "cloned_at";
const KEY_PHASES: &str = "phases";
const KEY_DISKS: &str = "disks";

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

pub struct AltDisk {
    config: ResourceConfig,
    host: Host,
}

/// Keywords needing `images` (-l), with the flag they become.
const NEED_IMAGES: &[(&str, &str)] = &[
    ("bundle", "-b"),
    ("fix_bundle", "-f"),
    ("fixes", "-F"),
    ("filesets", "-w"),
    ("installp_flags", "-I"),
];

impl AltDisk {
    /// An alt_disk_copy nobody saw end (doppel was killed): `lspv` says whether
    /// altinst_rootvg is on its disks. alt_disk_copy removes altinst_rootvg
    /// when it fails, so its presence means the phases asked for ran; its
    /// absence, that there is no clone. Other commands (alt_rootvg_op) leave
    /// nothing this driver records: the status reads lspv every time.
    fn reconcile(&self, run: &InterruptedRun) -> Result<ActionOutcome, Error> {
        if run.program() != "alt_disk_copy" {
            return Ok(noop(&format!(
                "after {}: nothing recorded to correct (the status reads lspv)",
                run.program()
            )));
        }
        let disks: Vec<String> = run
            .flag_value("-d")
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        // `-P<phases>` (copy_argv writes it glued: -P1, -P23, -Pall).
        let phases = match run.argv.iter().skip(1).find_map(|a| a.strip_prefix("-P")) {
            Some(p) => Phases::parse(p)?,
            None => Phases::all(),
        };
        let layout = self.layout()?;
        let on_disks = !disks.is_empty() && disks.iter().all(|d| layout.vg_of(d) == Some(ALTINST));
        let message = if on_disks {
            let mut done = if phases.has(1) {
                BTreeSet::new()
            } else {
                self.recorded_phases(&disks).unwrap_or_default()
            };
            done.extend(phases.set.iter().copied());
            if phases.has(1) {
                self.host.state_put(KEY_CLONED_AT, &run.started)?;
            }
            self.host.state_put(KEY_PHASES, &phases_text(&done))?;
            self.host.state_put(KEY_DISKS, &disks.join(" "))?;
            format!(
                "lspv shows altinst_rootvg on {}: phase(s) {} recorded as done",
                disks.join(" "),
                phases_text(&done)
            )
        } else {
            self.forget()?;
            format!(
                "lspv shows no altinst_rootvg on {}: alt_disk_copy failed and removed it, no clone recorded",
                disks.join(" ")
            )
        };
        Ok(ActionOutcome::new().message(format!("after alt_disk_copy: {message}")))
    }

    /// Runs alt_disk_copy and records what it did.
    fn copy(
        &self,
        targets: &[String],
        phases: &Phases,
        request: &ActionRequest,
    ) -> Result<Vec<String>, Error> {
        let started = jiff::Timestamp::now();
        let argv = self.copy_argv(targets, phases);
        self.host
            // alt_disk_copy takes its time: its output reaches the log as it comes.
            .run_checked(
                &CommandRequest::new(argv)
                    .timeout(self.copy_timeout())
                    .streamed(),
            )?;
        let done: BTreeSet<u8> = if phases.has(1) {
            phases.set.clone()
        } else {
            let mut s = self.recorded_phases(targets).unwrap_or_default();
            s.extend(phases.set.iter().copied());
            s
        };
        if phases.has(1) {
            self.host.state_put(KEY_CLONED_AT, &started.to_string())?;
        }
        self.host.state_put(KEY_PHASES, &phases_text(&done))?;
        self.host.state_put(KEY_DISKS, &targets.join(" "))?;
        let verb = if request.dry_run {
            "would clone"
        } else {
            "cloned"
        };
        let mut messages = vec![format!(
            "{verb} rootvg to {} ({})",
            targets.join(" "),
            phases.label()
        )];
        if phases.has(3) {
            if self.config.get_bool("set_bootlist", false) {
                messages.push(format!(
                    "the normal bootlist {} {}",
                    if request.dry_run {
                        "would point at"
                    } else {
                        "points at"
                    },
                    targets[0]
                ));
            }
            if self.config.get_bool("reboot", false) {
                messages.push(format!(
                    "the system {} from {} (-r)",
                    if request.dry_run {
                        "would reboot"
                    } else {
                        "reboots"
                    },
                    targets[0]
                ));
            }
        }
        Ok(messages)
    }

    fn provision(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let phases = Phases::from_request(request)?;
        let layout = self.layout()?;
        layout.check_targets()?;
        let targets = layout.targets.clone();
        let in_alt = layout.in_vg(ALTINST);
        if phases.has(1) {
            let others = layout.foreign_altinst();
            if in_alt.is_empty() && !others.is_empty() {
                return Err(Error::failed(format!(
                    "altinst_rootvg already exists on {}, which is not in 'disks': alt_disk_copy makes one \
                     altinst_rootvg at a time (remove it with alt_rootvg_op -X altinst_rootvg, or add its disks to 'disks')",
                    others.join(" ")
                )));
            }
            if !in_alt.is_empty() {
                if in_alt.len() != targets.len() {
                    let free: Vec<&str> = targets
                        .iter()
                        .filter(|t| !in_alt.contains(&t.as_str()))
                        .map(String::as_str)
                        .collect();
                    return Err(Error::failed(format!(
                        "altinst_rootvg holds {} but not {}: unprovision it before cloning again",
                        in_alt.join(" "),
                        free.join(" ")
                    )));
                }
                let recorded = self.recorded_phases(&targets);
                if request.force {
                    self.host.warn("altinst_rootvg exists: --force rebuilds it (alt_rootvg_op -X, then alt_disk_copy)");
                    self.remove_altinst()?;
                    let messages = self.copy(&targets, &phases, request)?;
                    return Ok(ActionOutcome::new().messages(messages));
                }
                return match recorded {
                    Some(done) if !done.contains(&3) => Err(Error::failed(format!(
                        "{} already holds an unfinished altinst_rootvg (phases done: {}): continue with --phase {}, \
                         or unprovision it first",
                        targets.join(" "),
                        phases_text(&done),
                        if done.contains(&2) { "3" } else { "23" }
                    ))),
                    _ => Ok(ActionOutcome::new().messages(vec![format!(
                            "altinst_rootvg already on {}: nothing to do ('sync update' refreshes it, --force rebuilds it)",
                            targets.join(" ")
                        )]).noop()),
                };
            }
        } else if in_alt.len() != targets.len() {
            let d = targets
                .iter()
                .find(|t| !in_alt.contains(&t.as_str()))
                .expect("some target is not in altinst_rootvg");
            let vg = layout.vg_of(d).unwrap_or("None");
            return Err(Error::failed(format!(
                "--phase {} continues a clone made by phase 1, but {d} is in volume group {vg}: run --phase 1 first",
                phases.arg.as_deref().unwrap_or("all")
            )));
        }
        let messages = self.copy(&targets, &phases, request)?;
        Ok(ActionOutcome::new().messages(messages))
    }

    fn refresh(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let phases = Phases::from_request(request)?;
        if !phases.has(1) {
            return Err(Error::invalid(format!(
                "sync update rebuilds the clone from phase 1; --phase {} continues a provision: use `provision --phase {}`",
                phases.arg.as_deref().unwrap_or(""),
                phases.arg.as_deref().unwrap_or("")
            )));
        }
        let layout = self.layout()?;
        layout.check_targets()?;
        let others = layout.foreign_altinst();
        if layout.in_vg(ALTINST).is_empty() && !others.is_empty() {
            return Err(Error::failed(format!(
                "altinst_rootvg exists on {}, which is not in 'disks': it was not made by this resource, refusing to remove it",
                others.join(" ")
            )));
        }
        let mut messages = Vec::new();
        if !layout.in_vg(ALTINST).is_empty() {
            self.remove_altinst()?;
            messages.push(format!(
                "{} the previous altinst_rootvg on {}",
                if request.dry_run {
                    "would remove"
                } else {
                    "removed"
                },
                layout.in_vg(ALTINST).join(" ")
            ));
        }
        messages.extend(self.copy(&layout.targets, &phases, request)?);
        Ok(ActionOutcome::new().messages(messages))
    }

    fn unprovision(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let layout = self.layout()?;
        let in_alt = layout.in_vg(ALTINST);
        if in_alt.is_empty() {
            let mut why = format!(
                "no altinst_rootvg on {}: nothing to remove",
                layout
                    .targets
                    .iter()
                    .map(|t| format!("{t} ({})", layout.vg_of(t).unwrap_or("None")))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if !layout.in_vg(ROOTVG).is_empty() {
                why.push_str(&format!(
                    "; the system runs from the clone, the former rootvg is old_rootvg on {} \
                     (remove it with alt_rootvg_op -X old_rootvg once the new system is validated)",
                    layout.members(OLD_ROOTVG).join(" ")
                ));
            }
            self.forget()?;
            return Ok(ActionOutcome::new().message(why).noop());
        }
        let others = layout.foreign_altinst();
        if !others.is_empty() {
            return Err(Error::failed(format!(
                "altinst_rootvg also spans {}, which is not in 'disks': refusing to remove a clone this resource did not make",
                others.join(" ")
            )));
        }
        self.remove_altinst()?;
        self.forget()?;
        let verb = if request.dry_run {
            "would remove"
        } else {
            "removed"
        };
        Ok(ActionOutcome::new().messages(vec![format!(
            "{verb} altinst_rootvg from {}",
            in_alt.join(" ")
        )]))
    }

    /// `wake` and `sleep`.
    fn wake_or_sleep(&self, wake: bool) -> Result<ActionOutcome, Error> {
        let layout = self.layout()?;
        layout.check_targets()?;
        if !layout.all_in(ALTINST) {
            return Err(Error::failed(format!(
                "no altinst_rootvg on {} to {}: provision it first",
                layout.targets.join(" "),
                if wake { "wake up" } else { "put to sleep" }
            )));
        }
        let awake = layout.altinst_active();
        match (wake, awake) {
            (true, true) => Ok(noop(
                "altinst_rootvg is already awake (varied on, mounted under /alt_inst)",
            )),
            (false, false) => Ok(noop("altinst_rootvg is already asleep")),
            (true, false) => {
                let argv = vec![
                    self.tool("alt_rootvg_op"),
                    "-W".into(),
                    "-d".into(),
                    layout.targets[0].clone(),
                ];
                self.host
                    .run_checked(&CommandRequest::new(argv).timeout(OP_TIMEOUT))?;
                Ok(ActionOutcome::new()
                    .message("altinst_rootvg woken up: its file systems are under /alt_inst"))
            }
            (false, true) => {
                let argv = vec![self.tool("alt_rootvg_op"), "-S".into()];
                self.host
                    .run_checked(&CommandRequest::new(argv).timeout(OP_TIMEOUT))?;
                Ok(ActionOutcome::new().message("altinst_rootvg put to sleep"))
            }
        }
    }
}

fn noop(message: &str) -> ActionOutcome {
    ActionOutcome::new().message(message.to_owned()).noop()
}

/// The resource's keywords, in the order `drivers info` and the docs show them.
fn keyword_table() -> Vec<KeywordSpec> {
    let boolean = |name: &str, desc: &str| {
        KeywordSpec::new(name, KeywordType::Boolean)
            .default_value("False")
            .candidates(&["True", "False"])
            .desc(desc)
    };
    vec![
        KeywordSpec::new("disks", KeywordType::List)
                    .required()
                    .example("hdisk1 hdisk2")
                    .desc(
                        "Target disks of the alternate rootvg (altinst_rootvg), passed together in one quoted -d \
                         argument. They must be in volume group None (lspv) before the first clone.",
                    ),
        boolean(
                "set_bootlist",
                "Let alt_disk_copy set the normal bootlist to the first target disk after the clone. The default \
                 false passes -B: the bootlist is left alone, unlike alt_disk_copy run by hand. doppel's rule, the \
                 same for disk.alt_disk and task.nimadm: a resource changes what the machine boots next only when \
                 the service says set_bootlist = true, so that an unplanned reboot never starts a clone refreshed on \
                 schedule.",
            ),
        boolean(
                "reboot",
                "Reboot from the alternate disk when alt_disk_copy finishes (-r). Needs set_bootlist = true: -r \
                 cannot be used with -B.",
            ),
        KeywordSpec::new("exclude_list", KeywordType::String)
                    .example("/etc/exclude.rootvg")
                    .desc(
                        "Full path of an exclude list (-e): one grep pattern per line, matched against the backup \
                         list whose lines start with './' (^./tmp/ excludes the content of /tmp and keeps /tmp).",
                    ),
        KeywordSpec::new("script", KeywordType::String)
                    .example("/usr/local/sbin/customize_clone")
                    .desc(
                        "Customization script (-s), run at the end of the clone on the running system while the \
                         clone's file systems are mounted under /alt_inst. Must be executable.",
                    ),
        KeywordSpec::new("first_boot_script", KeywordType::String).desc(
                "Script run during the first boot of the alternate rootvg, after all file systems are mounted (-x).",
            ),
        KeywordSpec::new("resolv_conf", KeywordType::String)
                    .desc("Full path of a resolv.conf that replaces the clone's one (-R)."),
        KeywordSpec::new("image_data", KeywordType::String)
                    .desc("Full path of an image.data file used instead of the one made from rootvg (-i)."),
        boolean("remain_nim_client", "Copy /.rhosts and /etc/niminfo to the clone: it remains a NIM client (-n)."),
        boolean(
                "device_reset",
                "Reset the clone's device configuration (-O), for a clone that boots another system (LPAR, disk swap).",
            ),
        KeywordSpec::new("console", KeywordType::String)
                    .depends_on("device_reset", &["True"])
                    .example("/dev/vty0")
                    .desc("The clone's system console device (-c); only valid with device_reset."),
        boolean("jfs2", "Convert JFS file systems to JFS2 on the clone (-T)."),
        KeywordSpec::new("images", KeywordType::String)
                    .example("/updates")
                    .desc("Location of installp images or updates applied to the clone (-l): a directory or a device."),
        KeywordSpec::new("bundle", KeywordType::String)
                    .desc("File listing packages or filesets installed on the clone (-b). Needs images."),
        KeywordSpec::new("fix_bundle", KeywordType::String)
                    .desc("File listing APARs installed on the clone (-f). Needs images."),
        KeywordSpec::new("fixes", KeywordType::List)
                    .example("IX123456")
                    .desc("APARs installed on the clone (-F). Needs images."),
        KeywordSpec::new("filesets", KeywordType::List)
                    .desc("Filesets installed on the clone (-w). Needs images."),
        KeywordSpec::new("installp_flags", KeywordType::String)
                    .example("-acgX")
                    .desc("installp flags for the installations on the clone (-I). Needs images."),
        KeywordSpec::new("copy_timeout", KeywordType::Duration)
                    .default_value(DEFAULT_COPY_TIMEOUT)
                    .desc("Kill alt_disk_copy when it runs longer than this."),
        KeywordSpec::new("sync_max_delay", KeywordType::DurationMinutes)
                    .default_value("1440")
                    .not_scopable()
                    .desc(
                        "Unit is minutes. The status turns warn when the clone is older than this (the clone time \
                         is recorded by the driver when it runs alt_disk_copy).",
                    ),
    ]
}

impl Driver for AltDisk {
    fn manifest() -> Manifest {
        let manifest = Manifest::new("disk", "alt_disk", env!("CARGO_PKG_VERSION"))
            .reconciles()
            .option(
                OptionSpec::new(
                    "phase",
                    "Only these alt_disk_copy phases (-P): 1, 2, 3, 12, 23 or all.",
                )
                .actions(&["provision", "sync_update"]),
            )
            .node_option(OptionSpec::new(
                "bin",
                "Directory of all four tools, replacing each one's default directory.",
            ))
            .node_option(OptionSpec::new(
                "alt_disk_copy",
                "Full path of alt_disk_copy (default /usr/sbin/alt_disk_copy); wins over bin.",
            ))
            .node_option(OptionSpec::new(
                "alt_rootvg_op",
                "Full path of alt_rootvg_op (default /usr/sbin/alt_rootvg_op); wins over bin.",
            ))
            .node_option(OptionSpec::new(
                "lspv",
                "Full path of lspv (default /usr/sbin/lspv); wins over bin.",
            ))
            .node_option(OptionSpec::new(
                "bootlist",
                "Full path of bootlist (default /usr/bin/bootlist); wins over bin.",
            ))
            .description("Clone the running AIX rootvg to alternate disks with alt_disk_copy");
        keyword_table()
            .into_iter()
            .fold(manifest, Manifest::keyword)
            .action(ActionSpec::standard("provision"))
            .action(ActionSpec::standard("unprovision"))
            .action(ActionSpec::standard("sync_update"))
            .action(ActionSpec::new(
                "wake",
                "Wake the altinst_rootvg up: vary it on and mount its file systems under /alt_inst (alt_rootvg_op -W).",
            ))
            .action(ActionSpec::new("sleep", "Put the woken altinst_rootvg to sleep (alt_rootvg_op -S)."))
    }

    fn validate(config: &ResourceConfig) -> Vec<Problem> {
        let mut problems = node_config_problems(config);
        let disks = config.get_list("disks");
        for (i, d) in disks.iter().enumerate() {
            if !is_disk_name(d) {
                problems.push(Problem::keyword(
                    "disks",
                    format!("'{d}' is not a disk name (e.g. hdisk1)"),
                ));
            } else if disks[..i].contains(d) {
                problems.push(Problem::keyword("disks", format!("{d} is listed twice")));
            }
        }
        let set = |k: &str| config.get(k).is_some_and(|v| !v.trim().is_empty());
        if config.get_bool("reboot", false) && !config.get_bool("set_bootlist", false) {
            problems.push(Problem::keyword(
                "reboot",
                "reboot = true needs set_bootlist = true: set_bootlist = false passes -B, which keeps alt_disk_copy \
                 from running bootlist after the clone, and the -r flag cannot be used with -B (the reboot would \
                 start the old rootvg again)",
            ));
        }
        for (kw, flag) in NEED_IMAGES {
            if set(kw) && !set("images") {
                problems.push(Problem::keyword(
                    kw,
                    format!(
                        "{kw} ({flag}) needs images: what it installs on the clone comes from the installp images \
                         location, and alt_disk_copy requires the -l flag with {flag}"
                    ),
                ));
            }
        }
        if set("console") && !config.get_bool("device_reset", false) {
            problems.push(Problem::keyword(
                "console",
                "console (-c) needs device_reset = true: alt_disk_copy accepts the clone's console only with -O \
                 (device reset)",
            ));
        }
        for kw in ["exclude_list", "image_data", "resolv_conf"] {
            if let Some(v) = config
                .get(kw)
                .map(str::trim)
                .filter(|v| !v.is_empty() && !v.starts_with('/'))
            {
                problems.push(Problem::keyword(
                    kw,
                    format!("'{v}' must be a full path name: alt_disk_copy requires one"),
                ));
            }
        }
        for kw in ["script", "first_boot_script"] {
            if let Some(v) = config
                .get(kw)
                .map(str::trim)
                .filter(|v| !v.is_empty() && !v.starts_with('/'))
            {
                problems.push(Problem::keyword(
                    kw,
                    format!("'{v}' must be a full path name: alt_disk_copy runs it from its own working directory"),
                ));
            }
        }
        problems
    }

    fn open(config: ResourceConfig, host: Host) -> Result<Self, Error> {
        Ok(AltDisk { config, host })
    }

    fn status(&self) -> Result<StatusReport, Error> {
        let layout = match self.layout() {
            Ok(l) => l,
            Err(e) => return Ok(StatusReport::new(Status::Undef).error(e.message)),
        };
        let bootlist = self.bootlist();
        Ok(self.report(&layout, bootlist))
    }

    fn call(&self, method: &str, request: serde_json::Value) -> Result<serde_json::Value, Error> {
        if method != RECONCILE_METHOD {
            return Err(Error::unsupported(method));
        }
        let run: InterruptedRun = serde_json::from_value(request)?;
        Ok(serde_json::to_value(self.reconcile(&run)?)?)
    }

    fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        match request.action.as_str() {
            "provision" => self.provision(request),
            "sync_update" => self.refresh(request),
            "unprovision" => self.unprovision(request),
            "wake" => self.wake_or_sleep(true),
            "sleep" => self.wake_or_sleep(false),
            other => Err(Error::unsupported(other)),
        }
    }
}

doppel_plugin_api::export_driver!(AltDisk);

#[cfg(test)]
mod tests;
