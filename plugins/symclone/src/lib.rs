//! `sync.symclone`: EMC Symmetrix TimeFinder/Clone pairs driven with SYMCLI, as
//! OpenSVC's symclone driver drives them (reference/opensvc.md §8).
//!
//! Every clone command is `<bin>/symclone -sid <symid> -f <pairs file> ...`, where the
//! pairs file (one `<src> <dst>` line per pair) lives in the resource's state
//! directory. The status comes from `<bin>/symdev -sid <symid> list -v -devs
//! <dst,...> -output xml_e`. `<bin>` is the `bin` option of the node config's
//! `[driver.symclone]` table (default `/usr/symcli/bin`).
//!
//! Actions:
//! - `start`, `sync_break`: activate the clones (nothing to do when every pair is
//!   already active), after waiting for an activable state; then wait for the
//!   active state.
//! - `sync_resync`: recreate the clones (refused while the service is up unless
//!   `--force`).
//! - `sync_update`: recreate, then activate.
//! - `sync_restore`: restore the sources from the targets, wait for the restored
//!   state, and terminate the restore session.
//!
//! On Linux, an activation (start, sync_break, sync_update) ends with the device
//! refresh of OpenSVC's linux.py ([`rescan`]): rescan of the targets' SCSI paths,
//! `sg_turs`, `multipath -r`; the `rescan` keyword turns it off.
//!
//! Waits poll the symdev XML every few seconds through `host.sleep` (so Ctrl-C stops
//! them). The poll interval can be changed with the environment variable
//! `DOPPEL_SYMCLONE_POLL_MS` (milliseconds); it exists for tests against the SYMCLI
//! simulator and is not a configuration keyword.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, CommandRequest, Driver, Error, Host, InterruptedRun,
    KeywordSpec, KeywordType, Manifest, OptionSpec, Problem, RECONCILE_METHOD, ResourceConfig,
    Status, StatusReport,
};
use jiff::tz::TimeZone;

/// Where SYMCLI lives when the node config does not say.
const DEFAULT_BIN: &str = "/usr/symcli/bin";
/// Environment variable overriding the poll interval of the waits, in milliseconds
/// (for tests; not a keyword).
pub const POLL_ENV: &str = "DOPPEL_SYMCLONE_POLL_MS";
/// The poll interval of the waits.
const DEFAULT_POLL: Duration = Duration::from_secs(3);
/// Attempts of a status query hitting lock contention at the start of an action.
const LOCK_ATTEMPTS: u32 = 5;
/// Time limit of read-only queries (symdev list, symclone verify).
const QUERY_TIMEOUT: Duration = Duration::from_secs(120);
/// The format of `last_action` in SYMCLI output (local time).
const LAST_ACTION_FORMAT: &str = "%a %b %d %H:%M:%S %Y";

/// States in which a pair's target holds an activated point-in-time copy.
const ACTIVE_STATES: &[&str] = &["copied", "copyinprog", "copyonaccess"];
/// States from which a pair can be activated.
const ACTIVABLE_STATES: &[&str] = &["recreated", "precopy", "created"];

/// One configured `<src>:<dst>` pair.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pair {
    src: String,
    dst: String,
}

impl Pair {
    fn label(&self) -> String {
        format!("{}:{}", self.src, self.dst)
    }
}

fn is_devid(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// Parses the `pairs` list; on failure, one message per bad pair.
fn parse_pairs(items: &[String]) -> Result<Vec<Pair>, Vec<String>> {
    let mut pairs: Vec<Pair> = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        let parsed = item
            .split_once(':')
            .filter(|(src, dst)| is_devid(src) && is_devid(dst));
        let Some((src, dst)) = parsed else {
            errors.push(format!(
                "pair '{item}' is malformed: expected <src>:<dst> with hexadecimal device ids, e.g. 00B60:00B61"
            ));
            continue;
        };
        if src.eq_ignore_ascii_case(dst) {
            errors.push(format!(
                "pair '{item}' uses device {src} as both source and target"
            ));
            continue;
        }
        if let Some(prev) = pairs.iter().find(|p| p.dst.eq_ignore_ascii_case(dst)) {
            errors.push(format!(
                "pair '{item}' reuses target {dst} of pair '{}': a device can be the target of one pair only",
                prev.label()
            ));
            continue;
        }
        pairs.push(Pair {
            src: src.to_owned(),
            dst: dst.to_owned(),
        });
    }
    if errors.is_empty() {
        Ok(pairs)
    } else {
        Err(errors)
    }
}

/// The pairs file content: one `<src> <dst>` line per pair, no trailing newline
/// (as OpenSVC writes it).
fn pairs_file_content(pairs: &[Pair]) -> String {
    pairs
        .iter()
        .map(|p| format!("{} {}", p.src, p.dst))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------
// XML
// ---------------------------------------------------------------------------

/// A minimal element tree: enough for the symdev XML.
#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn path(&self, path: &str) -> Option<&Node> {
        path.split('/').try_fold(self, |node, part| {
            node.children.iter().find(|c| c.name == part)
        })
    }

    /// The trimmed text at `path`, if present and not empty.
    fn text_at(&self, path: &str) -> Option<&str> {
        self.path(path)
            .map(|n| n.text.trim())
            .filter(|t| !t.is_empty())
    }
}

/// Parses a SYMCLI XML document and returns its `SymCLI_ML` root.
fn parse_xml(text: &str) -> Result<Node, String> {
    use quick_xml::Reader;
    use quick_xml::events::Event;

    if text.trim().is_empty() {
        return Err("empty output".into());
    }
    let mut reader = Reader::from_str(text);
    let element = |raw: &[u8]| Node {
        name: String::from_utf8_lossy(raw).into_owned(),
        ..Node::default()
    };
    let mut stack = vec![Node {
        name: "#document".into(),
        ..Node::default()
    }];
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("{e} at byte {}", reader.error_position()))?;
        match event {
            Event::Start(e) => stack.push(element(e.name().as_ref())),
            Event::Empty(e) => {
                let node = element(e.name().as_ref());
                stack.last_mut().expect("document node").children.push(node);
            }
            Event::End(_) => {
                let node = stack.pop().expect("open element");
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Err("unbalanced end tag".into()),
                }
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?;
                stack
                    .last_mut()
                    .expect("document node")
                    .text
                    .push_str(&text);
            }
            Event::CData(c) => {
                let text = String::from_utf8_lossy(&c).into_owned();
                stack
                    .last_mut()
                    .expect("document node")
                    .text
                    .push_str(&text);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() > 1 {
        let open = stack.last().map(|n| n.name.clone()).unwrap_or_default();
        return Err(format!("document ends inside <{open}> (truncated output?)"));
    }
    let mut doc = stack.pop().expect("document node");
    if !doc.text.trim().is_empty() {
        return Err("text outside the root element".into());
    }
    match doc.children.len() {
        0 => Err("no root element".into()),
        1 => {
            let root = doc.children.pop().expect("one root");
            if root.name == "SymCLI_ML" {
                Ok(root)
            } else {
                Err(format!(
                    "root element is <{}>, expected <SymCLI_ML>",
                    root.name
                ))
            }
        }
        _ => Err("several root elements".into()),
    }
}

// ---------------------------------------------------------------------------
// Clone set state
// ---------------------------------------------------------------------------

/// The clone session of one configured pair, as symdev shows its target.
#[derive(Clone, Debug, PartialEq)]
struct Session {
    state: String,
    last_action: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
struct PairStatus {
    pair: Pair,
    session: Option<Session>,
    /// Why the pair has no usable session, for the status.
    note: Option<String>,
}

impl PairStatus {
    fn is_in(&self, states: &[&str]) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| states.contains(&s.state.to_ascii_lowercase().as_str()))
    }

    fn describe(&self) -> String {
        match &self.session {
            Some(s) if s.state.is_empty() => format!("{} (no state)", self.pair.dst),
            Some(s) => format!("{} {}", self.pair.dst, s.state),
            None => format!("{} no session", self.pair.dst),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct CloneSet {
    pairs: Vec<PairStatus>,
}

impl CloneSet {
    fn from_xml(root: &Node, pairs: &[Pair]) -> CloneSet {
        let devices: Vec<&Node> = root
            .children("Symmetrix")
            .flat_map(|s| s.children("Device"))
            .collect();
        let pairs = pairs
            .iter()
            .map(|pair| {
                let same = |a: Option<&str>, b: &str| a.is_some_and(|a| a.eq_ignore_ascii_case(b));
                let device = devices
                    .iter()
                    .find(|d| same(d.text_at("Dev_Info/dev_name"), &pair.dst));
                let Some(device) = device else {
                    return PairStatus {
                        pair: pair.clone(),
                        session: None,
                        note: Some(format!("{} not found in the symdev output", pair.dst)),
                    };
                };
                let clone = device
                    .children("CLONE_Device")
                    .find(|c| same(c.text_at("TGT/dev_name"), &pair.dst));
                let Some(clone) = clone else {
                    return PairStatus {
                        pair: pair.clone(),
                        session: None,
                        note: Some(format!("{} has no clone info", pair.dst)),
                    };
                };
                let src = clone.text_at("SRC/dev_name").unwrap_or("");
                if !src.eq_ignore_ascii_case(&pair.src) {
                    return PairStatus {
                        pair: pair.clone(),
                        session: None,
                        note: Some(format!(
                            "{} is the target of a clone session from {src}, not {}",
                            pair.dst, pair.src
                        )),
                    };
                }
                PairStatus {
                    pair: pair.clone(),
                    session: Some(Session {
                        state: clone.text_at("state").unwrap_or("").to_owned(),
                        last_action: clone.text_at("last_action").map(str::to_owned),
                    }),
                    note: None,
                }
            })
            .collect();
        CloneSet { pairs }
    }

    /// Fails when a pair has no clone session: it cannot become activable by
    /// waiting (the sessions are created outside doppel).
    fn check_sessions(&self) -> Result<(), Error> {
        let missing: Vec<String> = self
            .pairs
            .iter()
            .filter(|p| p.session.is_none())
            .map(|p| p.pair.label())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::failed(format!(
            "no clone session for {}: create the sessions first (symclone create -differential)",
            missing.join(", ")
        )))
    }

    fn count(&self, states: &[&str]) -> usize {
        self.pairs.iter().filter(|p| p.is_in(states)).count()
    }

    fn all_in(&self, states: &[&str]) -> bool {
        self.count(states) == self.pairs.len()
    }

    fn not_in(&self, states: &[&str]) -> Vec<&PairStatus> {
        self.pairs.iter().filter(|p| !p.is_in(states)).collect()
    }

    /// The driver's status from the clone set, times read in `tz`.
    fn report(&self, tz: &TimeZone) -> StatusReport {
        let n = self.pairs.len();
        let sessions: Vec<(&PairStatus, &Session)> = self
            .pairs
            .iter()
            .filter_map(|p| p.session.as_ref().map(|s| (p, s)))
            .collect();
        if sessions.is_empty() {
            return StatusReport::new(Status::Down).info("no clone session");
        }
        // A pair neither active nor activable (Failed, Invalid, Split, a restore
        // in progress, ...) is not a usable clone, however recent its last action
        // (the seed: "devices are in an unexpected state").
        let unexpected: Vec<String> = sessions
            .iter()
            .filter(|(p, _)| !p.is_in(ACTIVE_STATES) && !p.is_in(ACTIVABLE_STATES))
            .map(|(p, _)| p.describe())
            .collect();
        if !unexpected.is_empty() {
            return StatusReport::new(Status::Down).error(format!(
                "pair(s) in an unexpected state (neither active nor activable): {}",
                unexpected.join(", ")
            ));
        }
        let mut warnings: Vec<String> = self.pairs.iter().filter_map(|p| p.note.clone()).collect();
        let mut last: Option<jiff::Zoned> = None;
        for (p, s) in &sessions {
            let Some(text) = &s.last_action else { continue };
            match parse_last_action(text, tz) {
                Some(when) => {
                    if last
                        .as_ref()
                        .is_none_or(|l| when.timestamp() > l.timestamp())
                    {
                        last = Some(when);
                    }
                }
                None => warnings.push(format!("{}: cannot read last_action '{text}'", p.pair.dst)),
            }
        }
        let Some(last) = last else {
            let mut report = StatusReport::new(Status::Down).info("no clone action recorded");
            for w in warnings {
                report = report.warn(w);
            }
            return report;
        };
        let active = self.count(ACTIVE_STATES);
        let mut report = if active > 0 && active < n {
            StatusReport::new(Status::Warn).warn(format!("cloneset has {active}/{n} active devs"))
        } else {
            let mut r = StatusReport::new(Status::Up);
            if active == 0 {
                let states: Vec<String> = sessions.iter().map(|(p, _)| p.describe()).collect();
                r = r.info(format!(
                    "target devices not activated: {}",
                    states.join(", ")
                ));
            }
            r.info(format!(
                "Last sync on {}",
                last.strftime("%Y-%m-%d %H:%M:%S")
            ))
        };
        if !warnings.is_empty() && report.state == Status::Up {
            report.state = Status::Warn;
        }
        for w in warnings {
            report = report.warn(w);
        }
        report.last_sync(last.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
    }
}

/// Reads a SYMCLI `last_action` (`Thu Feb 25 10:20:56 2010`, local time).
fn parse_last_action(text: &str, tz: &TimeZone) -> Option<jiff::Zoned> {
    let normalized = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let datetime = jiff::civil::DateTime::strptime(LAST_ACTION_FORMAT, &normalized).ok()?;
    datetime.to_zoned(tz.clone()).ok()
}

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

/// What a wait waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Goal {
    Activable,
    Active,
}

impl Goal {
    fn states(self) -> &'static [&'static str] {
        match self {
            Goal::Activable => ACTIVABLE_STATES,
            Goal::Active => ACTIVE_STATES,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Goal::Activable => "activable state",
            Goal::Active => "active state",
        }
    }

    fn list(self) -> &'static str {
        match self {
            Goal::Activable => "recreated, precopy or created",
            Goal::Active => "copied, copyinprog or copyonaccess",
        }
    }
}

/// A failed status query.
#[derive(Debug)]
struct QueryError {
    message: String,
    /// Lock contention (exit 2): worth retrying.
    transient: bool,
}

impl QueryError {
    fn fatal(message: String) -> QueryError {
        QueryError {
            message,
            transient: false,
        }
    }
}

/// True when the service is running (or partly, or its standby resources are up):
/// resyncing the clones under it would pull the data from under its feet.
pub struct Symclone {
    config: ResourceConfig,
    host: Host,
    /// Interval between two polls of a wait.
    poll: Duration,
}

impl Symclone {
    fn tool(&self, name: &str) -> String {
        self.config.tool_path("bin", DEFAULT_BIN, name)
    }

    fn symid(&self) -> Result<String, Error> {
        Ok(self.config.require("symid")?.trim().to_owned())
    }

    fn pairs(&self) -> Result<Vec<Pair>, Error> {
        let items = self.config.get_list("pairs");
        if items.is_empty() {
            return Err(Error::invalid(format!(
                "{}: keyword 'pairs' is required",
                self.config.rid
            )));
        }
        parse_pairs(&items)
            .map_err(|errors| Error::invalid(format!("{}: {}", self.config.rid, errors.join("; "))))
    }

    fn recreate_timeout(&self) -> Duration {
        self.config
            .get_duration("recreate_timeout", Duration::from_secs(300))
    }

    fn restore_timeout(&self) -> Duration {
        self.config
            .get_duration("restore_timeout", Duration::from_secs(300))
    }

    fn pairs_file(&self) -> PathBuf {
        self.config.state_dir.join("pairs")
    }

    /// Rewrites the pairs file (atomically) and returns its path.
    fn write_pairs(&self, pairs: &[Pair]) -> Result<PathBuf, Error> {
        let path = self.pairs_file();
        let content = pairs_file_content(pairs);
        if self.host.dry_run() {
            // A dry run still shows the commands that would read it: a local
            // copy, since the host drops file writes under --dry-run.
            doppel_plugin_api::files::write_local(&path, content.as_bytes(), true)
                .map_err(|e| Error::failed(format!("cannot write {}: {e}", path.display())))?;
        } else {
            // Through the host: SYMCLI reads it on the resource's host (`ssh`).
            self.host.write_file(&path, &content)?;
        }
        tracing::debug!("wrote content '{}' in file '{}'", content, path.display());
        Ok(path)
    }

    /// `<bin>/symclone -sid <symid> -f <file> <args...>`.
    fn symclone_argv(&self, file: &Path, args: &[&str]) -> Result<Vec<String>, Error> {
        let mut argv = vec![
            self.tool("symclone"),
            "-sid".into(),
            self.symid()?,
            "-f".into(),
            file.display().to_string(),
        ];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        Ok(argv)
    }

    fn activate_argv(&self, file: &Path) -> Result<Vec<String>, Error> {
        let mut args = vec!["-noprompt", "activate", "-i", "20", "-c", "30"];
        if self.config.get_bool("consistent", true) {
            args.push("-consistent");
        }
        self.symclone_argv(file, &args)
    }

    fn recreate_argv(&self, file: &Path) -> Result<Vec<String>, Error> {
        let mut args = vec!["-noprompt", "recreate", "-i", "20", "-c", "30"];
        if self.config.get_bool("precopy", true) {
            args.push("-precopy");
        }
        self.symclone_argv(file, &args)
    }

    /// `<bin>/symdev -sid <symid> list -v -devs <dst,...> -output xml_e`.
    fn query_argv(&self, pairs: &[Pair]) -> Result<Vec<String>, Error> {
        let devs = pairs
            .iter()
            .map(|p| p.dst.as_str())
            .collect::<Vec<_>>()
            .join(",");
        Ok(vec![
            self.tool("symdev"),
            "-sid".into(),
            self.symid()?,
            "list".into(),
            "-v".into(),
            "-devs".into(),
            devs,
            "-output".into(),
            "xml_e".into(),
        ])
    }

    /// Reads the clone state of the pairs' targets.
    fn query(&self, pairs: &[Pair]) -> Result<CloneSet, QueryError> {
        Ok(CloneSet::from_xml(&self.query_doc(pairs)?, pairs))
    }

    /// The symdev XML of the pairs' targets.
    fn query_doc(&self, pairs: &[Pair]) -> Result<Node, QueryError> {
        let argv = self
            .query_argv(pairs)
            .map_err(|e| QueryError::fatal(e.message))?;
        let program = argv[0].clone();
        let request = CommandRequest::new(argv).read_only().timeout(QUERY_TIMEOUT);
        let out = self
            .host
            .run(&request)
            .map_err(|e| QueryError::fatal(format!("cannot run {program}: {e}")))?;
        if out.timed_out {
            return Err(QueryError::fatal(format!("{program} timed out")));
        }
        match out.exit_code {
            Some(127) => {
                let detail = out.last_line();
                return Err(QueryError::fatal(if detail.is_empty() {
                    format!("{program} not found (exit code 127)")
                } else {
                    format!("{program} not found (exit code 127): {detail}")
                }));
            }
            Some(0) => {}
            Some(code) => {
                return Err(QueryError {
                    message: format!("{program} exited with code {code}: {}", out.last_line()),
                    transient: code == 2,
                });
            }
            None => return Err(QueryError::fatal(format!("{program} was killed"))),
        }
        parse_xml(&out.stdout).map_err(|e| {
            QueryError::fatal(format!("cannot parse the XML output of {program}: {e}"))
        })
    }

    /// [`Self::query`] for actions: lock contention (exit 2) is retried a few times.
    fn query_patient(&self, pairs: &[Pair]) -> Result<CloneSet, Error> {
        self.patient(|| self.query(pairs))
    }

    /// Runs a query, retrying lock contention (exit 2) a few times.
    fn patient<T>(&self, query: impl Fn() -> Result<T, QueryError>) -> Result<T, Error> {
        let mut attempt = 1;
        loop {
            match query() {
                Ok(set) => return Ok(set),
                Err(e) if e.transient && attempt < LOCK_ATTEMPTS => {
                    self.host.warn(&format!(
                        "{} (attempt {attempt} of {LOCK_ATTEMPTS}, retrying)",
                        e.message
                    ));
                    self.host.sleep(self.poll)?;
                    attempt += 1;
                }
                Err(e) => return Err(Error::failed(e.message)),
            }
        }
    }

    /// Waits (up to `timeout`) until every pair is in one of `goal`'s states. Starts
    /// from `initial` when the caller just queried. Under `--dry-run`, does not wait.
    fn wait_for(
        &self,
        goal: Goal,
        pairs: &[Pair],
        timeout: Duration,
        dry_run: bool,
        initial: Option<CloneSet>,
    ) -> Result<(), Error> {
        if let Some(set) = &initial {
            if set.all_in(goal.states()) {
                return Ok(());
            }
            if goal == Goal::Activable {
                set.check_sessions()?;
            }
        }
        if dry_run {
            self.host.info(&format!(
                "dry-run: would wait for {} ({}, max {}s)",
                goal.name(),
                goal.list(),
                timeout.as_secs()
            ));
            return Ok(());
        }
        let n = pairs.len();
        let start = Instant::now();
        let mut current = initial;
        loop {
            let set = match current.take() {
                Some(set) => Some(set),
                None => match self.query(pairs) {
                    Ok(set) => Some(set),
                    Err(e) if e.transient => {
                        self.host.warn(&format!("{} (retrying)", e.message));
                        None
                    }
                    Err(e) => return Err(Error::failed(e.message)),
                },
            };
            let ready = set.as_ref().map(|s| s.count(goal.states())).unwrap_or(0);
            if ready == n && set.is_some() {
                return Ok(());
            }
            if let (Goal::Activable, Some(set)) = (goal, &set) {
                set.check_sessions()?;
            }
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                let details = set
                    .as_ref()
                    .map(|s| {
                        s.not_in(goal.states())
                            .iter()
                            .map(|p| p.describe())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_else(|| "state unknown".into());
                return Err(Error::failed(format!(
                    "timed out waiting for {} ({}s; {}): {ready}/{n} devs ready; {details}",
                    goal.name(),
                    timeout.as_secs(),
                    goal.list()
                )));
            }
            // The states of the pairs not there yet: what the operator watches.
            let pending = set
                .as_ref()
                .map(|s| {
                    let states: Vec<String> = s
                        .not_in(goal.states())
                        .iter()
                        .map(|p| p.describe())
                        .collect();
                    format!(": {}", states.join(", "))
                })
                .unwrap_or_default();
            self.host.progress(&format!(
                "waiting for {}: {ready}/{n} devs ready ({}s/{}s){pending}",
                goal.name(),
                elapsed.as_secs(),
                timeout.as_secs()
            ));
            self.host.sleep(self.poll.min(timeout - elapsed))?;
        }
    }

    /// True when `verify -<state>` succeeds for one of the activable states (every
    /// pair in that state), as OpenSVC's `is_activable()`.
    fn verify_activable(&self, file: &Path) -> Result<bool, Error> {
        for state in ACTIVABLE_STATES {
            let flag = format!("-{state}");
            let argv = self.symclone_argv(file, &["verify", &flag])?;
            let program = argv[0].clone();
            let out = self
                .host
                .run(&CommandRequest::new(argv).read_only().timeout(QUERY_TIMEOUT))
                .map_err(|e| Error::failed(format!("cannot run {program}: {e}")))?;
            match out.exit_code {
                Some(0) => return Ok(true),
                Some(127) => {
                    return Err(Error::failed(format!(
                        "{program} not found (exit code 127)"
                    )));
                }
                _ => {}
            }
        }
        Ok(false)
    }

    /// Recreates the clones unless they are already activable. Returns whether the
    /// recreate command was issued.
    fn recreate(&self, file: &Path) -> Result<bool, Error> {
        if self.verify_activable(file)? {
            self.host.info("symclone are already recreated");
            return Ok(false);
        }
        self.host
            .run_checked(&CommandRequest::new(self.recreate_argv(file)?).warn_to_info())?;
        Ok(true)
    }

    /// Activates the clones. `after_recreate`: a recreate was just issued (under
    /// `--dry-run` it did not happen, so the current state says nothing).
    fn activate(
        &self,
        pairs: &[Pair],
        file: &Path,
        request: &ActionRequest,
        after_recreate: bool,
    ) -> Result<ActionOutcome, Error> {
        let timeout = self.recreate_timeout();
        let initial = if request.dry_run && after_recreate {
            None
        } else {
            let set = self.query_patient(pairs)?;
            if set.all_in(ACTIVE_STATES) {
                self.host.info("symclone target devices are already active");
                return Ok(ActionOutcome::new().noop());
            }
            Some(set)
        };
        self.wait_for(Goal::Activable, pairs, timeout, request.dry_run, initial)?;
        self.host
            .run_checked(&CommandRequest::new(self.activate_argv(file)?).warn_to_info())?;
        self.wait_for(Goal::Active, pairs, timeout, request.dry_run, None)?;
        if self.rescan_enabled() {
            self.refresh_devices(pairs, request.dry_run)?;
        }
        let message = if request.dry_run {
            format!("would activate {} clone pair(s)", pairs.len())
        } else {
            format!("{} clone pair(s) activated", pairs.len())
        };
        Ok(ActionOutcome::new().message(message))
    }

    fn resync(
        &self,
        pairs: &[Pair],
        file: &Path,
        request: &ActionRequest,
    ) -> Result<ActionOutcome, Error> {
        // Refused while the service runs by doppel itself: the manifest marks
        // sync_resync destructive.
        let _ = (pairs, request);
        let ran = self.recreate(file)?;
        Ok({
            let mut outcome = ActionOutcome::new();
            outcome.noop = !ran;
            outcome
        })
    }

    fn update(
        &self,
        pairs: &[Pair],
        file: &Path,
        request: &ActionRequest,
    ) -> Result<ActionOutcome, Error> {
        let ran = self.recreate(file)?;
        let mut outcome = self.activate(pairs, file, request, ran)?;
        outcome.noop = outcome.noop && !ran;
        Ok(outcome)
    }

    fn restore(
        &self,
        pairs: &[Pair],
        file: &Path,
        request: &ActionRequest,
    ) -> Result<ActionOutcome, Error> {
        let set = self.query_patient(pairs)?;
        let inactive = set.not_in(ACTIVE_STATES);
        if !inactive.is_empty() {
            let labels: Vec<String> = inactive.iter().map(|p| p.pair.label()).collect();
            return Err(Error::failed(format!(
                "{} not in active state ({})",
                labels.join(", "),
                Goal::Active.list()
            )));
        }
        self.host.run_checked(
            &CommandRequest::new(self.symclone_argv(file, &["-noprompt", "restore"])?)
                .warn_to_info(),
        )?;
        let terminate = CommandRequest::new(
            self.symclone_argv(file, &["-noprompt", "terminate", "-restored"])?,
        )
        .warn_to_info();
        let timeout = self.restore_timeout();
        if request.dry_run {
            self.host.info(&format!(
                "dry-run: would wait for restored state (max {}s)",
                timeout.as_secs()
            ));
        } else {
            let count = (timeout.as_secs() / 10).max(1).to_string();
            let argv =
                self.symclone_argv(file, &["verify", "-restored", "-i", "10", "-c", &count])?;
            let program = argv[0].clone();
            let mut verify = CommandRequest::new(argv)
                .read_only()
                .timeout(timeout + Duration::from_secs(120));
            verify.quiet = false;
            verify.warn_to_info = true;
            self.host.info(&format!(
                "waiting for restored state (max {}s)",
                timeout.as_secs()
            ));
            let out = self
                .host
                .run(&verify)
                .map_err(|e| Error::failed(format!("cannot run {program}: {e}")))?;
            if self.host.cancelled() {
                return Err(Error::cancelled());
            }
            if !out.success() {
                return Err(Error::failed(format!(
                    "timeout waiting for devs to become 'restored'. once restored, you can terminate running: {}",
                    terminate.display()
                )));
            }
        }
        self.host.run_checked(&terminate)?;
        let message = if request.dry_run {
            format!("would restore {} clone pair(s)", pairs.len())
        } else {
            format!("{} clone pair(s) restored", pairs.len())
        };
        Ok(ActionOutcome::new().message(message))
    }
}

fn poll_interval_from_env() -> Duration {
    std::env::var(POLL_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_POLL)
}

impl Driver for Symclone {
    fn manifest() -> Manifest {
        Manifest::new("sync", "symclone", env!("CARGO_PKG_VERSION"))
            .reconciles()
            .node_option(OptionSpec::new("bin", "Directory of the SYMCLI commands (default /usr/symcli/bin)."))
            .node_option(OptionSpec::new("sysroot", "Root of the /sys tree the Linux device refresh writes to (default /)."))
            .node_option(OptionSpec::new("sg_turs", "Full path of sg_turs, for the device refresh (default /usr/bin/sg_turs)."))
            .node_option(OptionSpec::new("multipath", "Full path of multipath, for the device refresh (default /sbin/multipath)."))
            .description("EMC Symmetrix TimeFinder/Clone pairs driven with SYMCLI")
            .keyword(
                KeywordSpec::new("consistent", KeywordType::Boolean)
                    .default_value("True")
                    .desc("Use -consistent in symclone commands."),
            )
            .keyword(
                KeywordSpec::new("symid", KeywordType::String)
                    .required()
                    .not_scopable()
                    .desc("Identifier of the symmetrix array hosting the source and target devices pairs pointed by 'pairs'."),
            )
            .keyword(
                KeywordSpec::new("pairs", KeywordType::List)
                    .required()
                    .example("00B60:00B61 00B62:00B63")
                    .desc("Whitespace-separated list of devices <src>:<dst> devid pairs to drive with this resource."),
            )
            .keyword(
                KeywordSpec::new("precopy", KeywordType::Boolean)
                    .default_value("True")
                    .desc("Use -precopy on recreate."),
            )
            .keyword(
                KeywordSpec::new("recreate_timeout", KeywordType::Duration)
                    .default_value("300")
                    .desc("Maximum time to wait for the clone pairs to reach an activable state (recreated, precopy or created) before activating them, and then for the active state."),
            )
            .keyword(
                KeywordSpec::new("restore_timeout", KeywordType::Duration)
                    .default_value("300")
                    .desc("Maximum time to wait for the clone pairs to reach the restored state during a sync restore, before terminating the restore session."),
            )
            .keyword(
                KeywordSpec::new("rescan", KeywordType::Boolean)
                    .default_value(if rescan::supported() { "True" } else { "False" })
                    .candidates(&["True", "False"])
                    .desc("Linux only: after an activation, check that the target devices are visible from this host, rescan their SCSI paths (echo 1 > /sys/block/<dev>/device/rescan), wait until each answers sg_turs, and reload their multipath map (multipath -v0 -r), as OpenSVC does, so that the host does not read the old data from its caches. The paths come from symdev (Dev_Info/pd_name, Front_End/Port/pd_name). False skips it (targets not used by this host)."),
            )
            .action(ActionSpec::standard("start"))
            .action(ActionSpec::standard("sync_break"))
            .action(ActionSpec::standard("sync_resync").destructive())
            .action(ActionSpec::standard("sync_update").destructive())
            .action(ActionSpec::standard("sync_restore").destructive())
    }

    fn validate(config: &ResourceConfig) -> Vec<Problem> {
        let mut problems = match parse_pairs(&config.get_list("pairs")) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .into_iter()
                .map(|e| Problem::keyword("pairs", e))
                .collect(),
        };
        if !rescan::supported() && config.get_bool("rescan", false) {
            problems.push(Problem::keyword(
                "rescan",
                "rescan = true needs Linux: the refresh writes /sys/block/<dev>/device/rescan",
            ));
        }
        problems.extend(rescan::node_config_problems(config));
        problems
    }

    fn open(config: ResourceConfig, host: Host) -> Result<Self, Error> {
        Ok(Symclone {
            config,
            host,
            poll: poll_interval_from_env(),
        })
    }

    fn status(&self) -> Result<StatusReport, Error> {
        let pairs = match self.pairs() {
            Ok(p) => p,
            Err(e) => return Ok(StatusReport::new(Status::Undef).error(e.message)),
        };
        Ok(match self.query(&pairs) {
            Ok(set) => set.report(&TimeZone::system()),
            Err(e) => StatusReport::new(Status::Undef).error(e.message),
        })
    }

    fn call(&self, method: &str, request: serde_json::Value) -> Result<serde_json::Value, Error> {
        if method != RECONCILE_METHOD {
            return Err(Error::unsupported(method));
        }
        let run: InterruptedRun = serde_json::from_value(request)?;
        // The pairs' states are SYMCLI's (symclone query): nothing of the
        // interrupted run is kept by the driver, so the query is all there is.
        let pairs = self.pairs()?;
        let set = self.query(&pairs).map_err(|e| Error::failed(e.message))?;
        let report = set.report(&TimeZone::system());
        let mut found = format!(
            "after {}: symclone query says the pairs are {}",
            run.argv.get(1).map(String::as_str).unwrap_or("symclone"),
            report.state
        );
        if let Some(first) = report.messages.first() {
            found.push_str(&format!(" ({})", first.text));
        }
        Ok(serde_json::to_value(ActionOutcome::new().message(found))?)
    }

    fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let run: fn(&Symclone, &[Pair], &Path, &ActionRequest) -> Result<ActionOutcome, Error> =
            match request.action.as_str() {
                "start" | "sync_break" => |d, pairs, file, req| d.activate(pairs, file, req, false),
                "sync_resync" => Symclone::resync,
                "sync_update" => Symclone::update,
                "sync_restore" => Symclone::restore,
                other => return Err(Error::unsupported(other)),
            };
        let pairs = self.pairs()?;
        let file = self.write_pairs(&pairs)?;
        run(self, &pairs, &file, request)
    }
}

doppel_plugin_api::export_driver!(Symclone);

mod rescan;
pub use rescan::NODE_CONFIG_KEYS;

#[cfg(test)]
mod tests;
