//! Import passes, as IBM's `sync_receive` runs them: only complete logical
//! packets, until a pass applies nothing.

use doppel_plugin_api::{ActionRequest, CommandOutput, Error};

use crate::config::Settings;
use crate::lspacket::{self, Logical};
use crate::{LAST_IMPORT, MAX_PASSES, Replica, human, now_rfc3339};

impl Replica {
    /// Runs one import command. Its output is logged here rather than by doppel:
    /// refusals of packets that wait for a predecessor are expected, not errors.
    pub(crate) fn run_import(
        &self,
        s: &Settings,
        argv: Vec<String>,
        waiting: &[String],
        dry_run: bool,
    ) -> Result<CommandOutput, Error> {
        let program = argv[0].clone();
        let mut req = self.request(s, argv);
        req.quiet = true;
        if !dry_run {
            self.host.info(&req.display());
        }
        let out = self
            .host
            .run(&req)
            .map_err(|e| Error::failed(format!("cannot run {program}: {e}")))?;
        for line in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
            self.host.info(line.trim_end());
        }
        for line in out.stderr.lines().filter(|l| !l.trim().is_empty()) {
            if waiting.iter().any(|w| line.contains(w.as_str())) {
                self.host.info(line.trim_end());
            } else {
                self.host.warn(line.trim_end());
            }
        }
        Ok(out)
    }

    /// Runs import passes until one applies nothing. Returns the number of
    /// packets applied.
    ///
    /// Each pass imports the complete logical packets that lspacket marks with
    /// `*`: with `-receive` (or the `incoming` directory) when that is all of
    /// them, else by naming their files, so that no part of a logical packet
    /// whose fragments have not all arrived is imported. When no packet has a
    /// `*`, the first pass tries the complete ones anyway (some releases never
    /// show the asterisk, as IBM's sync_receive notes).
    pub(crate) fn import(&self, s: &Settings, request: &ActionRequest) -> Result<usize, Error> {
        let mut total = 0;
        let mut last_failure: Option<CommandOutput> = None;
        for pass in 1..=MAX_PASSES {
            match self.import_pass(s, request, pass)? {
                Pass::Nothing => break,
                Pass::DryRun => return Ok(0),
                Pass::Ran { applied, out } => {
                    total += applied;
                    if !out.success() {
                        last_failure = Some(out);
                    }
                    if applied == 0 {
                        break;
                    }
                    self.host
                        .info(&format!("import pass {pass}: {applied} packet(s) applied"));
                }
            }
        }
        self.check_left_over(s, last_failure.as_ref())?;
        self.host.state_put(LAST_IMPORT, &now_rfc3339())?;
        Ok(total)
    }

    /// One import pass over the packets listed now.
    fn import_pass(
        &self,
        s: &Settings,
        request: &ActionRequest,
        pass: usize,
    ) -> Result<Pass, Error> {
        let (packets, others) = self.listing_all(s)?;
        let groups = lspacket::group(&packets);
        let (complete, incomplete): (Vec<&Logical<'_>>, Vec<&Logical<'_>>) =
            groups.iter().partition(|l| l.complete());
        if pass == 1 {
            for l in &incomplete {
                let missing: Vec<String> = l.missing().iter().map(u32::to_string).collect();
                self.host.info(&format!(
                    "{}: waiting for fragment(s) {} of {} before importing it",
                    l.name(),
                    missing.join(", "),
                    l.fragments
                ));
            }
        }
        let starred: Vec<&Logical<'_>> = complete
            .iter()
            .copied()
            .filter(|l| Self::starred(s, l))
            .collect();
        let waiting = packet_names(
            &complete
                .iter()
                .copied()
                .filter(|l| !Self::starred(s, l))
                .collect::<Vec<_>>(),
        );
        if request.dry_run {
            self.say_what_would_import(&packet_names(&starred), &waiting);
        }
        let chosen = if starred.is_empty() && pass == 1 {
            complete.clone()
        } else {
            starred
        };
        if chosen.is_empty() {
            if pass == 1 {
                self.host.info("no packet to import");
            }
            return Ok(Pass::Nothing);
        }
        // -receive (or the incoming directory) imports everything there: only
        // when that is exactly this replica's applicable packets.
        let argv = if incomplete.is_empty() && chosen.len() == complete.len() && others == 0 {
            self.import_argv(s, false, None)
        } else {
            let paths: Vec<String> = chosen.iter().flat_map(|l| l.paths()).collect();
            self.import_argv(s, false, Some(&paths))
        };
        let out = self.run_import(s, argv, &waiting, request.dry_run)?;
        if out.dry_run {
            return Ok(Pass::DryRun);
        }
        let applied = applied_packets(&complete, &out);
        Ok(Pass::Ran { applied, out })
    }

    /// Under --dry-run: the packets an import would apply, and those it would hold.
    fn say_what_would_import(&self, ready: &[String], waiting: &[String]) {
        if !ready.is_empty() {
            self.host.info(&format!(
                "would import {} packet(s): {}",
                ready.len(),
                ready.join(", ")
            ));
        }
        if !waiting.is_empty() {
            self.host.info(&format!(
                "held until a predecessor is imported (no * in lspacket): {}",
                waiting.join(", ")
            ));
        }
    }

    /// What is left after the passes: packets that should have gone in are
    /// failures (with the import's message about them); the others wait for a
    /// predecessor or for fragments, a warning once held past `max_hold`.
    fn check_left_over(
        &self,
        s: &Settings,
        last_failure: Option<&CommandOutput>,
    ) -> Result<(), Error> {
        let packets = self.listing(s)?;
        let mut failed = Vec::new();
        for l in lspacket::group(&packets) {
            if l.complete() && Self::starred(s, &l) {
                let detail = last_failure
                    .and_then(|o| {
                        o.stderr
                            .lines()
                            .find(|line| l.parts.iter().any(|p| line.contains(p.name())))
                            .map(str::trim)
                            .map(str::to_owned)
                    })
                    .or_else(|| last_failure.map(|o| o.last_line().to_owned()))
                    .unwrap_or_else(|| "not imported".to_owned());
                failed.push(format!("{}: {detail}", l.name()));
            }
        }
        for h in self.held(s, &packets) {
            let msg = format!("{} is held: {}", h.name, h.why);
            if h.waited.is_some_and(|w| w > s.max_hold) {
                self.host.warn(&format!(
                    "{msg} (for {})",
                    human(h.waited.unwrap_or_default())
                ));
            } else {
                self.host.info(&msg);
            }
        }
        if !failed.is_empty() {
            return Err(Error::failed(format!(
                "{} packet(s) could not be imported: {}",
                failed.len(),
                failed.join("; ")
            )));
        }
        Ok(())
    }
}

/// How an import pass ended.
enum Pass {
    /// Nothing to import.
    Nothing,
    /// --dry-run: the import was shown, not run.
    DryRun,
    /// The import ran and applied this many logical packets.
    Ran { applied: usize, out: CommandOutput },
}

/// The file names of logical packets' parts.
fn packet_names(ls: &[&Logical<'_>]) -> Vec<String> {
    ls.iter()
        .flat_map(|l| l.parts.iter().map(|p| p.name().to_owned()))
        .collect()
}

/// The logical packets an import applied, by its "Applied sync. packet" lines:
/// a packet split in n files prints n lines, and counts once.
fn applied_packets(complete: &[&Logical<'_>], out: &CommandOutput) -> usize {
    let applied_lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("Applied sync. packet"))
        .collect();
    complete
        .iter()
        .filter(|l| {
            l.parts.iter().any(|p| {
                applied_lines
                    .iter()
                    .any(|line| line.contains(p.path.as_str()))
            })
        })
        .count()
        .max(usize::from(!applied_lines.is_empty()))
}
