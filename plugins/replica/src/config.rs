//! The resource's keywords, read and checked once.

use std::collections::BTreeMap;
use std::time::Duration;

use doppel_plugin_api::{Problem, ResourceConfig};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tool {
    MultiTool,
    MultiUtil,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Fship,
    Ship,
    Out,
}

/// A resource's settings, checked.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) tool: Tool,
    /// The VOB tag (or the ClearQuest family name).
    pub(crate) vob: String,
    /// The local replica, when `vob` is a replica selector.
    pub(crate) local: Option<String>,
    pub(crate) export: bool,
    pub(crate) import: bool,
    pub(crate) targets: Vec<String>,
    pub(crate) transport: Transport,
    pub(crate) out_dir: Option<String>,
    pub(crate) maxsize: Option<String>,
    pub(crate) limit: Option<i64>,
    pub(crate) sclass: Option<String>,
    pub(crate) comment: Option<String>,
    pub(crate) incoming: Option<String>,
    pub(crate) workdir: Option<String>,
    pub(crate) lockwait: Option<i64>,
    pub(crate) clan: Option<String>,
    pub(crate) site: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) max_hold: Duration,
    pub(crate) timeout: Duration,
}

/// Splits `replica:name@vob` / `name@vob` into (vob, Some(name)); a plain tag
/// gives (tag, None).
pub(crate) fn split_vob(vob: &str) -> (String, Option<String>) {
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
pub(crate) fn settings(config: &ResourceConfig) -> Result<Settings, Vec<Problem>> {
    let mut problems = Vec::new();
    let tool = read_tool(config, &mut problems);
    let raw_vob = config.get_text("vob").unwrap_or_default();
    if raw_vob.is_empty() {
        problems.push(Problem::keyword("vob", "keyword 'vob' is required: a VOB tag (/vobs/dev) or a replica selector (replica:paris@/vobs/dev)"));
    }
    let (vob, local) = split_vob(&raw_vob);
    let (export, import) = read_role(config, &mut problems);
    let targets = config.get_list("targets");
    check_targets(&targets, export, local.as_deref(), &raw_vob, &mut problems);
    let transport = read_transport(config, &mut problems);
    let out_dir = config.get_text("out_dir");
    if transport == Transport::Out && export && out_dir.is_none() {
        problems.push(Problem::keyword(
            "out_dir",
            "transport = out needs 'out_dir': the directory the packet files are written to",
        ));
    }
    let maxsize = read_maxsize(config, &mut problems);
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
    let env = read_env(config, &mut problems);
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
        check_multiutil_identity(config, s.export, &mut problems);
    }
    if problems.is_empty() {
        Ok(s)
    } else {
        Err(problems)
    }
}

/// `tool`: multitool (the default) or multiutil.
fn read_tool(config: &ResourceConfig, problems: &mut Vec<Problem>) -> Tool {
    match config.get("tool").map(str::trim).unwrap_or("multitool") {
        "multiutil" => Tool::MultiUtil,
        "multitool" | "" => Tool::MultiTool,
        other => {
            problems.push(Problem::keyword(
                "tool",
                format!("unknown tool '{other}': expected multitool or multiutil"),
            ));
            Tool::MultiTool
        }
    }
}

/// `role`: whether this replica exports, imports, or both (the default).
fn read_role(config: &ResourceConfig, problems: &mut Vec<Problem>) -> (bool, bool) {
    match config.get("role").map(str::trim).unwrap_or("both") {
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
    }
}

/// An exporting replica needs targets, and the local replica is never one.
fn check_targets(
    targets: &[String],
    export: bool,
    local: Option<&str>,
    raw_vob: &str,
    problems: &mut Vec<Problem>,
) {
    if export && targets.is_empty() {
        problems.push(Problem::keyword(
            "targets",
            "the export role needs 'targets': the replicas to send packets to",
        ));
    }
    if let Some(l) = local
        && targets
            .iter()
            .any(|t| t.trim_start_matches("replica:").split('@').next() == Some(l))
    {
        problems.push(Problem::keyword("targets", format!("'{l}' is the local replica (vob = {raw_vob}): a replica cannot send packets to itself")));
    }
}

/// `transport`: fship (the default), ship or out.
fn read_transport(config: &ResourceConfig, problems: &mut Vec<Problem>) -> Transport {
    match config.get("transport").map(str::trim).unwrap_or("fship") {
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
    }
}

/// `maxsize` in multitool's form. doppel validated it with the one size
/// grammar (`1.5g`, `100MB`, `1ki`); multitool takes an integer with k, m or g:
/// the same value is passed in that form.
fn read_maxsize(config: &ResourceConfig, problems: &mut Vec<Problem>) -> Option<String> {
    let text = config.get_text("maxsize")?;
    match doppel_plugin_api::units::parse_size(&text) {
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
    }
}

/// The tools' environment: the node config's `env` table, then the `env`
/// keyword's KEY=VALUE items (which win).
fn read_env(config: &ResourceConfig, problems: &mut Vec<Problem>) -> BTreeMap<String, String> {
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
    env
}

/// multiutil (ClearQuest MultiSite) logs in with a user and password, and an
/// export names its clan and site.
fn check_multiutil_identity(config: &ResourceConfig, export: bool, problems: &mut Vec<Problem>) {
    for kw in ["user", "password"] {
        if config.get_text(kw).is_none() {
            problems.push(Problem::keyword(
                kw,
                format!("tool = multiutil needs '{kw}' (multiutil -{kw})"),
            ));
        }
    }
    if export {
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
