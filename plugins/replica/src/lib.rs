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

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use doppel_plugin_api::{
    ActionOutcome, ActionRequest, ActionSpec, CommandOutput, CommandRequest, Driver, Error, Host,
    KeywordSpec, KeywordType, Manifest, OptionSpec, Problem, ResourceConfig, Status, StatusReport,
    parse_duration,
};

pub mod lspacket;

use lspacket::{Logical, Packet, Target};

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    MultiTool,
    MultiUtil,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Fship,
    Ship,
    Out,
}

/// A resource's settings, checked.
#[derive(Clone, Debug)]
struct Settings {
    tool: Tool,
    /// The VOB tag (or the ClearQuest family name).
    vob: String,
    /// The local replica, when `vob` is a replica selector.
    local: Option<String>,
    export: bool,
    import: bool,
    targets: Vec<String>,
    transport: Transport,
    out_dir: Option<String>,
    maxsize: Option<String>,
    limit: Option<i64>,
    sclass: Option<String>,
    comment: Option<String>,
    incoming: Option<String>,
    workdir: Option<String>,
    lockwait: Option<i64>,
    clan: Option<String>,
    site: Option<String>,
    user: Option<String>,
    password: Option<String>,
    env: BTreeMap<String, String>,
    max_hold: Duration,
    timeout: Duration,
}

/// Splits `replica:name@vob` / `name@vob` into (vob, Some(name)); a plain tag
/// gives (tag, None).
fn split_vob(vob: &str) -> (String, Option<String>) {
    let v = vob.trim();
    if let Some((name, tag)) = v.split_once('@') {
        let name = name.strip_prefix("replica:").unwrap_or(name).trim();
        if !name.is_empty() && !tag.trim().is_empty() {
            return (tag.trim().to_owned(), Some(name.to_owned()));
        }
    }
    (v.strip_prefix("vob:").unwrap_or(v).to_owned(), None)
}

/// Reads and checks the settings; every problem found, with its keyword.
fn settings(config: &ResourceConfig) -> Result<Settings, Vec<Problem>> {
    let mut problems = Vec::new();
    let tool = match config.get("tool").map(str::trim).unwrap_or("multitool") {
        "multiutil" => Tool::MultiUtil,
        "multitool" | "" => Tool::MultiTool,
        other => {
            problems.push(Problem::keyword(
                "tool",
                format!("unknown tool '{other}': expected multitool or multiutil"),
            ));
            Tool::MultiTool
        }
    };
    let raw_vob = config.get_text("vob").unwrap_or_default();
    if raw_vob.is_empty() {
        problems.push(Problem::keyword("vob", "keyword 'vob' is required: a VOB tag (/vobs/dev) or a replica selector (replica:paris@/vobs/dev)"));
    }
    let (vob, local) = split_vob(&raw_vob);
    let (export, import) = match config.get("role").map(str::trim).unwrap_or("both") {
        "export" => (true, false),
        "import" => (false, true),
        "both" | "" => (true, true),
        other => {
            problems.push(Problem::keyword(
                "role",
                format!("unknown role '{other}': expected export, import or both"),
            ));
            (true, true)
        }
    };
    let targets = config.get_list("targets");
    if export && targets.is_empty() {
        problems.push(Problem::keyword(
            "targets",
            "the export role needs 'targets': the replicas to send packets to",
        ));
    }
    if let Some(l) = &local
        && targets
            .iter()
            .any(|t| t.trim_start_matches("replica:").split('@').next() == Some(l.as_str()))
    {
        problems.push(Problem::keyword("targets", format!("'{l}' is the local replica (vob = {raw_vob}): a replica cannot send packets to itself")));
    }
    let transport = match config.get("transport").map(str::trim).unwrap_or("fship") {
        "fship" | "" => Transport::Fship,
        "ship" => Transport::Ship,
        "out" => Transport::Out,
        other => {
            problems.push(Problem::keyword(
                "transport",
                format!("unknown transport '{other}': expected fship, ship or out"),
            ));
            Transport::Fship
        }
    };
    let out_dir = config.get_text("out_dir");
    if transport == Transport::Out && export && out_dir.is_none() {
        problems.push(Problem::keyword(
            "out_dir",
            "transport = out needs 'out_dir': the directory the packet files are written to",
        ));
    }
    // doppel validated maxsize with the one size grammar (`1.5g`, `100MB`, `1ki`);
    // multitool takes an integer with k, m or g: pass the same value in that form.
    let maxsize = match config.get_text("maxsize") {
        Some(text) => match doppel_plugin_api::units::parse_size(&text) {
            Ok(0) => {
                problems.push(Problem::keyword(
                    "maxsize",
                    "a packet size must be more than 0",
                ));
                None
            }
            Ok(bytes) if bytes >= 1 << 40 => {
                problems.push(Problem::keyword(
                    "maxsize",
                    format!("{text}: multitool -maxsize takes up to 1023g"),
                ));
                None
            }
            Ok(bytes) => Some(doppel_plugin_api::units::format_size(bytes)),
            Err(e) => {
                problems.push(Problem::keyword("maxsize", e.to_string()));
                None
            }
        },
        None => None,
    };
    let limit = config.get_text("limit").map(|_| config.get_int("limit", 0));
    if limit.is_some() && maxsize.is_none() {
        problems.push(Problem::keyword(
            "limit",
            "'limit' caps a logical packet at limit × maxsize: it needs 'maxsize'",
        ));
    }
    if limit.is_some_and(|l| l <= 0) {
        problems.push(Problem::keyword(
            "limit",
            "'limit' must be a positive number of packets",
        ));
    }
    let lockwait = config
        .get_text("lockwait")
        .map(|_| config.get_int("lockwait", 0));
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    if let Some(table) = config.driver_options.get("env").and_then(|v| v.as_object()) {
        for (k, v) in table {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            env.insert(k.clone(), v);
        }
    }
    for item in config.get_list("env") {
        match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                env.insert(k.to_owned(), v.to_owned());
            }
            _ => problems.push(Problem::keyword(
                "env",
                format!("'{item}' is not KEY=VALUE"),
            )),
        }
    }
    let s = Settings {
        tool,
        vob,
        local,
        export,
        import,
        targets,
        transport,
        out_dir,
        maxsize,
        limit,
        sclass: config.get_text("sclass"),
        comment: config.get_text("comment"),
        incoming: config.get_text("incoming"),
        workdir: config.get_text("workdir"),
        lockwait,
        clan: config.get_text("clan"),
        site: config.get_text("site"),
        user: config.get_text("user"),
        password: config.get_text("password"),
        env,
        max_hold: config.get_duration("max_hold", Duration::from_secs(900)),
        timeout: config.get_duration("timeout", Duration::from_secs(3600)),
    };
    if s.tool == Tool::MultiUtil {
        for kw in ["user", "password"] {
            if config.get_text(kw).is_none() {
                problems.push(Problem::keyword(
                    kw,
                    format!("tool = multiutil needs '{kw}' (multiutil -{kw})"),
                ));
            }
        }
        if s.export {
            for kw in ["clan", "site"] {
                if config.get_text(kw).is_none() {
                    problems.push(Problem::keyword(
                        kw,
                        format!("tool = multiutil exports need '{kw}' (multiutil -{kw})"),
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(s)
    } else {
        Err(problems)
    }
}

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

/// A packet that cannot be imported now.
#[derive(Clone, Debug, PartialEq)]
struct Held {
    name: String,
    why: String,
    waited: Option<Duration>,
}

/// Age of the oldest file of a logical packet (its arrival), from the file times.
fn waited(l: &Logical<'_>) -> Option<Duration> {
    let now = SystemTime::now();
    l.parts
        .iter()
        .filter_map(|p| std::fs::metadata(&p.path).and_then(|m| m.modified()).ok())
        .filter_map(|t| now.duration_since(t).ok())
        .max()
}

pub struct Replica {
    config: ResourceConfig,
    host: Host,
}

impl Replica {
    fn settings(&self) -> Result<Settings, Error> {
        settings(&self.config).map_err(|problems| Error::problems(&self.config.rid, &problems))
    }

    fn tool_path(&self, s: &Settings) -> String {
        let name = match s.tool {
            Tool::MultiTool => "multitool",
            Tool::MultiUtil => "multiutil",
        };
        self.config.tool_path("bin", DEFAULT_BIN, name)
    }

    fn shipping_server_path(&self) -> String {
        // shipping_server lives in MultiSite's etc directory, which defaults to bin's.
        let default = self
            .config
            .dir_option("bin")
            .unwrap_or_else(|| DEFAULT_ETC.to_owned());
        self.config.tool_path("etc", &default, "shipping_server")
    }

    fn request(&self, s: &Settings, argv: Vec<String>) -> CommandRequest {
        let mut r = CommandRequest::new(argv).timeout(s.timeout);
        for (k, v) in &s.env {
            r = r.env(k, v);
        }
        r
    }

    fn query(&self, s: &Settings, argv: Vec<String>) -> CommandRequest {
        let mut r = CommandRequest::new(argv).read_only().timeout(QUERY_TIMEOUT);
        for (k, v) in &s.env {
            r = r.env(k, v);
        }
        r
    }

    /// `-clan C -site S -family F -user U -password P` (multiutil), as much as is set.
    fn cq_args(&self, s: &Settings, with_site: bool) -> Vec<String> {
        let mut a = Vec::new();
        if s.tool != Tool::MultiUtil {
            return a;
        }
        if with_site {
            for (flag, v) in [("-clan", &s.clan), ("-site", &s.site)] {
                if let Some(v) = v {
                    a.push(flag.to_owned());
                    a.push(v.clone());
                }
            }
        }
        a.push("-family".into());
        a.push(s.vob.clone());
        for (flag, v) in [("-user", &s.user), ("-password", &s.password)] {
            if let Some(v) = v {
                a.push(flag.to_owned());
                a.push(v.clone());
            }
        }
        a
    }

    /// A target as the tool wants it: `<name>@<vob>` for multitool (unless it
    /// already names its VOB), the bare site name for multiutil.
    fn target_arg(&self, s: &Settings, t: &str) -> String {
        match s.tool {
            Tool::MultiUtil => t.to_owned(),
            Tool::MultiTool if t.contains('@') => t.to_owned(),
            Tool::MultiTool => format!("{t}@{}", s.vob),
        }
    }

    /// The `-out` pathname of the next export.
    fn out_pname(&self, s: &Settings, dir: &str) -> String {
        let seq = self
            .host
            .state_get(OUT_SEQ)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        let _ = self.host.state_put(OUT_SEQ, &seq.to_string());
        let who = s
            .local
            .clone()
            .unwrap_or_else(|| self.config.svcname.clone());
        let stamp = jiff::Zoned::now().strftime("%Y%m%d.%H%M%S");
        format!("{}/sync_{who}_{stamp}_{seq}", dir.trim_end_matches('/'))
    }

    fn export_argv(&self, s: &Settings) -> Vec<String> {
        let mut a = vec![self.tool_path(s), "syncreplica".into(), "-export".into()];
        a.extend(self.cq_args(s, true));
        if let Some(m) = &s.maxsize {
            a.extend(["-maxsize".into(), m.clone()]);
            if let Some(l) = s.limit {
                a.extend(["-limit".into(), l.to_string()]);
            }
        }
        if let Some(c) = &s.comment {
            a.extend(["-comment".into(), c.clone()]);
        }
        if let Some(m) = s.lockwait {
            a.extend(["-lockwait".into(), m.to_string()]);
        }
        if let Some(w) = &s.workdir {
            a.extend(["-workdir".into(), w.clone()]);
        }
        match s.transport {
            Transport::Fship | Transport::Ship => {
                a.push(
                    if s.transport == Transport::Fship {
                        "-fship"
                    } else {
                        "-ship"
                    }
                    .into(),
                );
                if let Some(c) = &s.sclass {
                    a.extend(["-sclass".into(), c.clone()]);
                }
            }
            Transport::Out => {
                let dir = s.out_dir.clone().unwrap_or_else(|| ".".into());
                a.extend(["-out".into(), self.out_pname(s, &dir)]);
            }
        }
        a.extend(s.targets.iter().map(|t| self.target_arg(s, t)));
        a
    }

    /// `syncreplica -import [-diagnose] { -receive [-sclass] | <incoming> | paths }`,
    /// as the VersionVault synopsis has it: the local import form takes no
    /// `-invob` (ClearCase's did). Which VOB a packet updates is in the packet;
    /// the caller names the files when the bay holds packets for other replicas.
    fn import_argv(&self, s: &Settings, diagnose: bool, paths: Option<&[String]>) -> Vec<String> {
        let mut a = vec![self.tool_path(s), "syncreplica".into(), "-import".into()];
        if diagnose {
            a.push("-diagnose".into());
        }
        if s.tool == Tool::MultiUtil {
            a.extend(self.cq_args(s, false));
        }
        match (paths, &s.incoming) {
            (Some(p), _) => a.extend(p.iter().cloned()),
            (None, Some(dir)) => a.push(dir.clone()),
            (None, None) => {
                a.push("-receive".into());
                if let Some(c) = &s.sclass {
                    a.extend(["-sclass".into(), c.clone()]);
                }
            }
        }
        a
    }

    fn lspacket_argv(&self, s: &Settings) -> Vec<String> {
        let mut a = vec![self.tool_path(s), "lspacket".into(), "-long".into()];
        if let Some(dir) = &s.incoming {
            a.push(dir.clone());
        }
        a
    }

    /// True for the target line standing for the local replica.
    fn is_ours(s: &Settings, t: &Target) -> bool {
        match &s.local {
            Some(name) => &t.name == name,
            None => match &t.tag {
                Some(tag) => tag == &s.vob,
                None => false,
            },
        }
    }

    /// The packets addressed to the local replica, per `lspacket -long`.
    fn listing(&self, s: &Settings) -> Result<Vec<Packet>, Error> {
        Ok(self.listing_all(s)?.0)
    }

    /// The packets addressed to the local replica, and how many others the
    /// listing shows (packets for other VOBs or replicas of this host).
    fn listing_all(&self, s: &Settings) -> Result<(Vec<Packet>, usize), Error> {
        let argv = self.lspacket_argv(s);
        let program = argv[0].clone();
        let out = self
            .host
            .run(&self.query(s, argv))
            .map_err(|e| Error::failed(format!("cannot run {program}: {e}")))?;
        if out.dry_run {
            return Ok((Vec::new(), 0));
        }
        let packets = lspacket::parse(&out.stdout);
        if !out.success() && packets.is_empty() {
            let why = if out.timed_out {
                "timed out".to_owned()
            } else {
                out.last_line().to_owned()
            };
            return Err(Error::failed(format!("lspacket failed: {why}")));
        }
        if !out.success() {
            tracing::warn!("lspacket: {}", out.last_line());
        }
        let (ours, others): (Vec<Packet>, Vec<Packet>) = packets
            .into_iter()
            .partition(|p| p.targets.iter().any(|t| Self::is_ours(s, t)));
        Ok((ours, others.len()))
    }

    /// Logical packets that cannot be imported now, and why.
    fn held(&self, s: &Settings, packets: &[Packet]) -> Vec<Held> {
        let mut held = Vec::new();
        for l in lspacket::group(packets) {
            let why = if !l.complete() {
                let missing: Vec<String> = l.missing().iter().map(u32::to_string).collect();
                format!(
                    "fragment(s) {} of {} not arrived",
                    missing.join(", "),
                    l.fragments
                )
            } else if !l
                .parts
                .iter()
                .any(|p| p.target(&|t| Self::is_ours(s, t)).is_some_and(|t| t.star))
            {
                "a predecessor is missing (no * in lspacket)".to_owned()
            } else {
                continue;
            };
            held.push(Held {
                name: l.name().to_owned(),
                why,
                waited: waited(&l),
            });
        }
        held
    }

    /// True when lspacket marks the logical packet importable here (`*`).
    fn starred(s: &Settings, l: &Logical<'_>) -> bool {
        l.parts
            .iter()
            .any(|p| p.target(&|t| Self::is_ours(s, t)).is_some_and(|t| t.star))
    }

    /// Runs one import command. Its output is logged here rather than by doppel:
    /// refusals of packets that wait for a predecessor are expected, not errors.
    fn run_import(
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
    fn import(&self, s: &Settings, request: &ActionRequest) -> Result<usize, Error> {
        let mut total = 0;
        let mut last_failure: Option<CommandOutput> = None;
        for pass in 1..=MAX_PASSES {
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
            let names = |ls: &[&Logical<'_>]| {
                ls.iter()
                    .flat_map(|l| l.parts.iter().map(|p| p.name().to_owned()))
                    .collect::<Vec<_>>()
            };
            let waiting = names(
                &complete
                    .iter()
                    .copied()
                    .filter(|l| !Self::starred(s, l))
                    .collect::<Vec<_>>(),
            );
            if request.dry_run {
                let ready = names(&starred);
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
            let chosen = if starred.is_empty() && pass == 1 {
                complete.clone()
            } else {
                starred
            };
            if chosen.is_empty() {
                if pass == 1 {
                    self.host.info("no packet to import");
                }
                break;
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
                return Ok(0);
            }
            // Count logical packets: a packet split in n files prints n lines.
            let applied_lines: Vec<&str> = out
                .stdout
                .lines()
                .filter(|l| l.trim_start().starts_with("Applied sync. packet"))
                .collect();
            let applied = complete
                .iter()
                .filter(|l| {
                    l.parts.iter().any(|p| {
                        applied_lines
                            .iter()
                            .any(|line| line.contains(p.path.as_str()))
                    })
                })
                .count()
                .max(usize::from(!applied_lines.is_empty()));
            total += applied;
            if !out.success() {
                last_failure = Some(out.clone());
            }
            if applied == 0 {
                break;
            }
            self.host
                .info(&format!("import pass {pass}: {applied} packet(s) applied"));
        }
        // What is left: packets that should have gone in are failures; the
        // others wait for a predecessor or for fragments.
        let packets = self.listing(s)?;
        let mut failed = Vec::new();
        for l in lspacket::group(&packets) {
            if l.complete() && Self::starred(s, &l) {
                let detail = last_failure
                    .as_ref()
                    .and_then(|o| {
                        o.stderr
                            .lines()
                            .find(|line| l.parts.iter().any(|p| line.contains(p.name())))
                            .map(str::trim)
                            .map(str::to_owned)
                    })
                    .or_else(|| last_failure.as_ref().map(|o| o.last_line().to_owned()))
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
        self.host.state_put(LAST_IMPORT, &now_rfc3339())?;
        Ok(total)
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
