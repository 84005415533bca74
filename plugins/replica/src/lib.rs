//! `sync.replica`: keeps ClearCase / VersionVault MultiSite replicas in step by
//! shipping update packets (reference/vendor-tools.md §5): export
//! (`multitool syncreplica -export`), transport (`-fship`, `-ship` then
//! `shipping_server -poll`, or `-out` files carried by other means) and import
//! (`multitool syncreplica -import`).
//!
//! Import follows IBM's `sync_receive`: list the incoming packets with
//! `lspacket -long`, never import part of a logical packet whose fragments have
//! not all arrived, and run import passes until one applies nothing (packets
//! may arrive out of order; a later pass applies what an earlier one made
//! applicable). Packets that stay because a predecessor is missing (no `*`
//! after the local target in `lspacket`) are reported by the status.
//!
//! Tools: `<bin>/multitool` (or `multiutil` with `tool = multiutil`) and
//! `<etc>/shipping_server`, from the node config's `[driver.replica]` table
//! (`bin`, default `/opt/hcl/ccm/versionvault/bin`; `etc`, default `bin` when
//! `bin` is set, else `/opt/hcl/ccm/versionvault/etc`). Extra environment for
//! every tool command comes from the node config's `env` table and the `env`
//! keyword (e.g. `MTS_SITE=paris`, which tells the MultiSite simulator which
//! simulated host it runs on).

use std::time::Duration;

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, Driver, Error, Host, KeywordSpec, KeywordType,
    Manifest, OptionSpec, Problem, ResourceConfig, Status, StatusReport, parse_duration,
};

mod commands;
mod config;
mod import;
mod incoming;
pub mod lspacket;

use config::{Settings, Tool, Transport, settings};
use incoming::Held;

const DEFAULT_BIN: &str = "/opt/hcl/ccm/versionvault/bin";
const DEFAULT_ETC: &str = "/opt/hcl/ccm/versionvault/etc";
/// Time limit of `lspacket`, `-diagnose` and the like.
const QUERY_TIMEOUT: Duration = Duration::from_secs(300);
/// Import passes stop after this many, whatever happens.
const MAX_PASSES: usize = 50;
/// State keys.
const LAST_EXPORT: &str = "last_export";
const LAST_IMPORT: &str = "last_import";
const OUT_SEQ: &str = "out_seq";

/// Formats a duration for messages: `45s`, `12m05s`, `3h07m`, `2d04h`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

pub struct Replica {
    config: ResourceConfig,
    host: Host,
}

impl Replica {
    fn settings(&self) -> Result<Settings, Error> {
        settings(&self.config).map_err(|problems| Error::problems(&self.config.rid, &problems))
    }

    /// Exports to the targets. Returns a line for the operator.
    fn export(&self, s: &Settings, request: &ActionRequest) -> Result<String, Error> {
        let argv = self.export_argv(s);
        let targets: Vec<String> = s.targets.iter().map(|t| self.target_arg(s, t)).collect();
        if request.dry_run {
            self.host.info(&format!(
                "would export an update packet for {}",
                targets.join(", ")
            ));
        }
        let out = self.host.run_checked(&self.request(s, argv))?;
        if out.dry_run {
            return Ok(String::new());
        }
        let message = if out.stdout.contains("Removing empty packet") {
            format!(
                "nothing to send to {} (empty packet removed)",
                targets.join(", ")
            )
        } else {
            let n = out
                .stdout
                .lines()
                .filter(|l| {
                    l.trim_start()
                        .starts_with("Generating synchronization packet")
                })
                .count();
            let how = match s.transport {
                Transport::Fship => "forwarded",
                Transport::Ship => "left for shipping_server",
                Transport::Out => "written",
            };
            format!(
                "exported {n} packet file(s) for {} ({how})",
                targets.join(", ")
            )
        };
        self.host.state_put(LAST_EXPORT, &now_rfc3339())?;
        Ok(message)
    }

    fn sync_update(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let s = self.settings()?;
        let mut messages = Vec::new();
        let mut error = None;
        if s.import {
            match self.import(&s, request) {
                Ok(n) if !request.dry_run => messages.push(format!("imported {n} packet(s)")),
                Ok(_) => {}
                Err(e) => error = Some(e),
            }
        }
        if s.export {
            match self.export(&s, request) {
                Ok(m) if !m.is_empty() => messages.push(m),
                Ok(_) => {}
                Err(e) => {
                    if error.is_none() {
                        error = Some(e);
                    }
                }
            }
        }
        match error {
            Some(e) => {
                // The action fails; what did succeed is still worth a line.
                for m in &messages {
                    self.host.info(m);
                }
                Err(e)
            }
            None => Ok(ActionOutcome::new().messages(messages)),
        }
    }

    fn ship(&self, _request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let s = self.settings()?;
        let mut argv = vec![self.shipping_server_path()];
        if let Some(c) = &s.sclass {
            argv.extend(["-sclass".into(), c.clone()]);
        }
        argv.push("-poll".into());
        let out = self.host.run_checked(&self.request(&s, argv))?;
        let n = out
            .stdout
            .lines()
            .filter(|l| l.contains("Forwarded/delivered packet"))
            .count();
        Ok({
            let mut outcome = ActionOutcome::new().message(format!("{n} packet(s) forwarded"));
            outcome.noop = n == 0 && !out.dry_run;
            outcome
        })
    }

    fn diagnose(&self, _request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let s = self.settings()?;
        let mut req = self.query(&s, self.import_argv(&s, true, None));
        req.quiet = false;
        let out = self.host.run_checked(&req)?;
        let packets = self.listing(&s)?;
        let mut messages: Vec<String> = self
            .held(&s, &packets)
            .into_iter()
            .map(|h| match h.waited {
                Some(w) => format!("{} held for {}: {}", h.name, human(w), h.why),
                None => format!("{} held: {}", h.name, h.why),
            })
            .collect();
        if messages.is_empty() {
            messages.push(format!(
                "{} packet(s) for this replica in incoming, none held",
                packets.len()
            ));
        }
        let _ = out;
        Ok(ActionOutcome::new().messages(messages).noop())
    }

    /// `since` option: a date-time passed through, or a duration meaning that
    /// long ago; default 1 day ago.
    fn since(&self, request: &ActionRequest) -> String {
        let ago = |d: Duration| {
            let t = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(d.as_secs() as i64);
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%d-%b-%Y.%H:%M:%S")
                .to_string()
        };
        match request
            .options
            .get("since")
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        {
            Some(v) => match parse_duration(v) {
                Some(d) => ago(d),
                None => v.to_owned(),
            },
            None => ago(Duration::from_secs(86400)),
        }
    }

    fn recover(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let s = self.settings()?;
        if !s.export {
            return Err(Error::failed(
                "recover re-sends exported packets: this resource does not export (role = import)",
            ));
        }
        let wanted: Vec<String> = match request.options.get("replica") {
            Some(v) => v
                .split([',', ' '])
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect(),
            None => s.targets.clone(),
        };
        for w in &wanted {
            if !s.targets.contains(w) {
                return Err(Error::failed(format!(
                    "'{w}' is not one of the targets ({})",
                    s.targets.join(", ")
                )));
            }
        }
        let since = self.since(request);
        if !request.force {
            return Err(Error::failed(format!(
                "recover rolls back the epoch estimates of {} so that the next export re-sends every operation sent since {since}: run it with --force once a packet is known to be lost (see the diagnose action at the receiving site; --opt since=<date-time> sets the start)",
                wanted.join(", ")
            )));
        }
        let mut messages = Vec::new();
        for t in &wanted {
            let mut argv = vec![self.tool_path(&s), "recoverpacket".into()];
            if s.tool == Tool::MultiUtil {
                argv.extend(self.cq_args(&s, true));
            }
            argv.extend(["-since".into(), since.clone(), self.target_arg(&s, t)]);
            self.host.run_checked(&self.request(&s, argv))?;
            messages.push(if request.dry_run {
                format!("would roll the epoch estimate of {t} back to {since}")
            } else {
                format!("epoch estimate of {t} rolled back to {since}")
            });
        }
        let subset = Settings {
            targets: wanted,
            ..s
        };
        let m = self.export(&subset, request)?;
        if !m.is_empty() {
            messages.push(m);
        }
        Ok(ActionOutcome::new().messages(messages))
    }

    fn report(&self) -> Result<StatusReport, Error> {
        let s = self.settings()?;
        let stamp = |key: &str| {
            self.host
                .state_get(key)
                .and_then(|v| v.parse::<jiff::Timestamp>().ok())
        };
        let mut needed: Vec<(&str, Option<jiff::Timestamp>)> = Vec::new();
        if s.export {
            needed.push(("export", stamp(LAST_EXPORT)));
        }
        if s.import {
            needed.push(("import", stamp(LAST_IMPORT)));
        }
        let never: Vec<&str> = needed
            .iter()
            .filter(|(_, t)| t.is_none())
            .map(|(n, _)| *n)
            .collect();
        let tz = jiff::tz::TimeZone::system();
        let mut report = if never.is_empty() {
            let mut r = StatusReport::new(Status::Up);
            for (name, t) in &needed {
                if let Some(t) = t {
                    r = r.info(format!(
                        "last {name} {}",
                        t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S")
                    ));
                }
            }
            let oldest = needed.iter().filter_map(|(_, t)| *t).min();
            match oldest {
                Some(t) => r.last_sync(t.to_string()),
                None => r,
            }
        } else {
            StatusReport::new(Status::Down)
                .info(format!("no successful {} recorded yet", never.join(" or ")))
        };
        if s.import {
            let packets = match self.listing(&s) {
                Ok(p) => p,
                Err(e) => return Ok(StatusReport::new(Status::Undef).error(e.message)),
            };
            let held = self.held(&s, &packets);
            let (late, young): (Vec<&Held>, Vec<&Held>) = held
                .iter()
                .partition(|h| h.waited.is_some_and(|w| w > s.max_hold));
            for h in &late {
                report = report.warn(format!(
                    "{} waits in incoming for {}: {}",
                    h.name,
                    human(h.waited.unwrap_or_default()),
                    h.why
                ));
            }
            if !late.is_empty() && report.state == Status::Up {
                report.state = Status::Warn;
            }
            for h in &young {
                let age = h.waited.map(human).unwrap_or_else(|| "?".into());
                report = report.info(format!("{} waits in incoming ({age}): {}", h.name, h.why));
            }
            let ready = lspacket::group(&packets).len() - held.len();
            if ready > 0 {
                report = report.info(format!("{ready} packet(s) ready to import"));
            }
        }
        Ok(report)
    }
}

impl Driver for Replica {
    fn manifest() -> Manifest {
        let s = |name: &str| KeywordSpec::new(name, KeywordType::String);
        Manifest::new("sync", "replica", env!("CARGO_PKG_VERSION"))
            .option(OptionSpec::new("since", "Re-send the changes since this long ago (1h, 2d) or this date (recoverpacket -since).").actions(&["recover"]))
            .option(OptionSpec::new("replica", "Only these target replicas, comma separated.").actions(&["recover"]))
            .node_option(OptionSpec::new("bin", "Directory of multitool and multiutil."))
            .node_option(OptionSpec::new("etc", "Directory of shipping_server."))
            .node_option(OptionSpec::new("env", "A table of environment variables for the MultiSite tools."))
            .description("ClearCase/VersionVault MultiSite replicas kept in step by update packets (multitool syncreplica)")
            .keyword(
                s("vob")
                    .required()
                    .example("replica:paris@/vobs/dev")
                    .desc("The VOB tag the commands run in (/vobs/dev), or a replica selector naming the local replica (replica:paris@/vobs/dev). With tool = multiutil, the ClearQuest family name (-family)."),
            )
            .keyword(
                s("role")
                    .default_value("both")
                    .candidates(&["export", "import", "both"])
                    .desc("What sync update does at this site: export packets to the targets, import the packets received, or both (import first)."),
            )
            .keyword(
                KeywordSpec::new("targets", KeywordType::List)
                    .example("tokyo london")
                    .depends_on("role", &["export", "both"])
                    .desc("The replicas to export to (names; multitool gets them as name@vob). One packet is addressed to all of them."),
            )
            .keyword(
                s("transport")
                    .default_value("fship")
                    .candidates(&["fship", "ship", "out"])
                    .desc("fship: forward at once (syncreplica -fship); ship: leave packet and shipping order in the storage bay for the ship action (shipping_server -poll); out: write files to out_dir, carried by other means."),
            )
            .keyword(s("out_dir").depends_on("transport", &["out"]).desc("Directory the -out packet files are written to (transport = out)."))
            .keyword(KeywordSpec::new("maxsize", KeywordType::Size).example("50m").desc("Split each logical packet into physical packets of at most this size (-maxsize)."))
            .keyword(
                KeywordSpec::new("limit", KeywordType::Integer)
                    .desc("Cap a logical packet at limit × maxsize (-limit); the rest goes in the next export."),
            )
            .keyword(s("sclass").example("cq_default").desc("Storage class of the storage bay (-sclass) for -ship/-fship, -receive and shipping_server."))
            .keyword(s("comment").desc("Comment stored in the exported packets (-comment)."))
            .keyword(s("incoming").desc("Import the packets of this directory (syncreplica -import <dir>) instead of the storage bays' incoming directories (-receive)."))
            .keyword(
                s("tool")
                    .default_value("multitool")
                    .candidates(&["multitool", "multiutil"])
                    .desc("multitool for ClearCase/VersionVault; multiutil for the ClearQuest flavour (-clan/-site/-family/-user/-password)."),
            )
            .keyword(s("workdir").desc("Temporary directory for the export (-workdir)."))
            .keyword(KeywordSpec::new("lockwait", KeywordType::Integer).desc("Minutes the export waits for a locked VOB (-lockwait)."))
            .keyword(s("clan").depends_on("tool", &["multiutil"]).desc("ClearQuest clan (multiutil -clan)."))
            .keyword(s("site").depends_on("tool", &["multiutil"]).desc("ClearQuest site exporting (multiutil -site)."))
            .keyword(s("user").depends_on("tool", &["multiutil"]).desc("ClearQuest user (multiutil -user)."))
            .keyword(
                s("password")
                    .depends_on("tool", &["multiutil"])
                    .desc("ClearQuest password (multiutil -password). It appears in the logged command lines."),
            )
            .keyword(
                KeywordSpec::new("max_hold", KeywordType::Duration)
                    .default_value("15m")
                    .desc("A packet that cannot be imported (a predecessor or a fragment is missing) for longer than this turns the status to warn."),
            )
            .keyword(
                KeywordSpec::new("timeout", KeywordType::Duration)
                    .default_value("1h")
                    .desc("Time limit of each export, import, shipping and recovery command."),
            )
            .keyword(
                KeywordSpec::new("env", KeywordType::List)
                    .example("MTS_SITE=paris")
                    .desc("KEY=VALUE environment variables for every tool command (e.g. CLEARCASE_VOBLOCKWAIT, or MTS_SITE for the MultiSite simulator), added to the node config's [driver.replica] env table."),
            )
            .action(ActionSpec::standard("sync_update"))
            .action(ActionSpec::new("ship", "Deliver the packets left in the storage bay by transport = ship (shipping_server -poll)."))
            .action(ActionSpec::new("diagnose", "Show the missing packet dependencies of the incoming packets (syncreplica -import -diagnose).").read_only())
            .action(ActionSpec::new(
                "recover",
                "Re-send lost packets: recoverpacket -since <time> for the targets (--opt since=, --opt replica=), then export. Needs --force.",
            ))
    }

    fn validate(config: &ResourceConfig) -> Vec<Problem> {
        settings(config).err().unwrap_or_default()
    }

    fn open(config: ResourceConfig, host: Host) -> Result<Self, Error> {
        Ok(Replica { config, host })
    }

    fn status(&self) -> Result<StatusReport, Error> {
        Ok(match self.report() {
            Ok(r) => r,
            Err(e) => StatusReport::new(Status::Undef).error(e.message),
        })
    }

    fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        match request.action.as_str() {
            "sync_update" => self.sync_update(request),
            "ship" => self.ship(request),
            "diagnose" => self.diagnose(request),
            "recover" => self.recover(request),
            other => Err(Error::unsupported(other)),
        }
    }
}

doppel_plugin_api::export_driver!(Replica);

#[cfg(test)]
mod tests;
