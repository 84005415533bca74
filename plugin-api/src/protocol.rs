//! The messages exchanged between doppel and a driver.
//!
//! Every message crosses the ABI as JSON text, so the messages (not the ABI) are what
//! evolves: a newer doppel adds fields with defaults, an older driver ignores what it
//! does not know, and [`PROTOCOL_VERSION`] tells either side what the other speaks.
//! Every field added after protocol 1 must carry `#[serde(default)]`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The version of the message protocol this crate speaks.
///
/// It is written into every driver's [`Manifest`] at build time. The host accepts
/// drivers of any protocol version up to its own and adapts to older ones.
pub const PROTOCOL_VERSION: u32 = 1;

/// The oldest message protocol this crate still speaks. A peer announces the range
/// `PROTOCOL_MIN..=PROTOCOL_VERSION`; both sides use [`negotiate`]'s answer.
pub const PROTOCOL_MIN: u32 = 1;

/// The protocol two peers use: the highest version both support, or `None` when
/// their ranges do not meet (the host then skips the driver, naming both ranges).
///
/// ```
/// use doppel_plugin_api::negotiate;
/// assert_eq!(negotiate((1, 1), (1, 1)), Some(1));
/// assert_eq!(negotiate((1, 3), (1, 2)), Some(2)); // newer host, older driver
/// assert_eq!(negotiate((1, 2), (1, 3)), Some(2)); // older host, newer driver
/// assert_eq!(negotiate((1, 1), (2, 3)), None);    // driver dropped protocol 1
/// ```
pub fn negotiate(host: (u32, u32), driver: (u32, u32)) -> Option<u32> {
    let low = host.0.max(driver.0);
    let high = host.1.min(driver.1);
    (low <= high).then_some(high)
}

/// What the host answers to the generic `call("features")` (see
/// [`Host::features`](crate::Host::features)): the protocol range it speaks and
/// the named host services it offers. A host predating the call (protocol 1 hosts
/// built before it existed) answers "unsupported", read as [`HostFeatures::protocol1`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostFeatures {
    /// Oldest protocol the host speaks.
    #[serde(default = "default_protocol")]
    pub protocol_min: u32,
    /// Newest protocol the host speaks.
    #[serde(default = "default_protocol")]
    pub protocol_max: u32,
    /// Host services by name (`now`, `dry_run`, `progress`, `features`, ...).
    #[serde(default)]
    pub features: Vec<String>,
}

impl HostFeatures {
    /// What a host that does not answer `features` offers: protocol 1, and no
    /// named service known for sure.
    pub fn protocol1() -> HostFeatures {
        HostFeatures {
            protocol_min: 1,
            protocol_max: 1,
            features: Vec::new(),
        }
    }

    /// What a host built with this crate offers: its protocol range and the
    /// services `now`, `dry_run`, `progress`, `features`. doppel answers
    /// `call("features")` with it.
    pub fn current() -> HostFeatures {
        HostFeatures {
            protocol_min: PROTOCOL_MIN,
            protocol_max: PROTOCOL_VERSION,
            features: ["features", "now", "dry_run", "progress"]
                .map(str::to_owned)
                .to_vec(),
        }
    }

    /// Does the host offer service `name`?
    pub fn has(&self, name: &str) -> bool {
        self.features.iter().any(|f| f == name)
    }

    /// The protocol this driver (built with this crate) and the host use.
    pub fn negotiated(&self) -> Option<u32> {
        negotiate(
            (self.protocol_min, self.protocol_max),
            (PROTOCOL_MIN, PROTOCOL_VERSION),
        )
    }
}

/// The version of `doppel-plugin-api` a driver was built against.
///
/// Written into the [`Manifest`] by [`export_driver!`](crate::export_driver) so that
/// `doppel drivers list` can show it.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a driver tells doppel about itself: its identity, keywords and actions.
///
/// # Example
///
/// ```
/// use doppel_plugin_api::{ActionSpec, KeywordSpec, KeywordType, Manifest};
///
/// let manifest = Manifest::new("sync", "mirror", "0.3.1")
///     .description("Mirror a directory with the site's mirror tool")
///     .keyword(KeywordSpec::new("source", KeywordType::String).required().desc("Directory to mirror."))
///     .action(ActionSpec::standard("sync_update"))
///     .action(ActionSpec::new("verify", "Compare the mirror with its source.").read_only());
/// assert_eq!(manifest.type_name(), "sync.mirror");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Driver group: `sync`, `disk`, `task`, `app`, `fs`, `ip`, ...
    pub group: String,
    /// Driver basename inside its group, as written in `type = <name>`.
    pub name: String,
    /// The driver's own version (its crate version, usually).
    pub version: String,
    /// The `doppel-plugin-api` version the driver was built against. Filled in by
    /// [`export_driver!`](crate::export_driver); drivers need not set it.
    #[serde(default)]
    pub api_version: String,
    /// The message protocol the driver speaks. Filled in by
    /// [`export_driver!`](crate::export_driver).
    #[serde(default = "default_protocol")]
    pub protocol: u32,
    /// The oldest protocol the driver speaks. Absent from drivers built before
    /// negotiation: 1. Filled in by [`export_driver!`](crate::export_driver).
    #[serde(default = "default_protocol")]
    pub protocol_min: u32,
    /// The newest protocol the driver speaks. Absent from drivers built before
    /// negotiation: 1 (they speak exactly protocol 1). Filled in by
    /// [`export_driver!`](crate::export_driver).
    #[serde(default = "default_protocol")]
    pub protocol_max: u32,
    /// One line saying what the driver drives.
    #[serde(default)]
    pub description: String,
    /// The driver's own keywords, in template order. Generic keywords (tags,
    /// triggers, `<action>_depends`, ...) are added by doppel and must not be listed.
    #[serde(default)]
    pub keywords: Vec<KeywordSpec>,
    /// The actions the driver implements. A resource whose driver does not list an
    /// action is passed over by that action.
    #[serde(default)]
    pub actions: Vec<ActionSpec>,
    /// The action options the driver reads from [`ActionRequest::options`]: what
    /// `--opt key=value`, `--phase` and `--clients` may set. doppel refuses any other
    /// (exit 2, with did-you-mean), so a misspelled `--opt sinse=1h` never runs with
    /// a default. `None` only in manifests of drivers built before options were
    /// declared: doppel then passes options unchecked, with a warning.
    #[serde(default)]
    pub options: Option<Vec<OptionSpec>>,
    /// The keys the driver reads from its node-config table `[driver.<name>]`
    /// ([`ResourceConfig::driver_options`]), e.g. `bin`. doppel refuses any other
    /// key, in `validate` and before an action. `None` as for [`Manifest::options`].
    #[serde(default)]
    pub node_options: Option<Vec<OptionSpec>>,
    /// Time limits, in seconds, of the driver's entry points, by entry point:
    /// `open`, `validate`, `status`, `action` (every action), or an action name
    /// (`sync_update`) to set that action's own. doppel runs each driver in a
    /// process of its own and kills it (with every process it started) when a call
    /// runs past its limit; an operator overrides them per resource with the
    /// generic `status_timeout` and `action_timeout` keywords. Unset: 60s for
    /// `open` and `validate`, 120s for `status`, no limit for actions.
    ///
    /// ```
    /// use std::time::Duration;
    /// use doppel_plugin_api::Manifest;
    /// let m = Manifest::new("sync", "mirror", "1.0.0")
    ///     .call_timeout("status", Duration::from_secs(30))
    ///     .call_timeout("sync_update", Duration::from_secs(4 * 3600));
    /// assert_eq!(m.call_timeouts["status"], 30);
    /// ```
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub call_timeouts: BTreeMap<String, u64>,
    /// The driver's [`Driver::status`](crate::Driver::status) may run for several
    /// resources at once in its process: doppel then refreshes a service's
    /// resources of this driver concurrently. Without it (the default, and what
    /// manifests of drivers built before it existed read as) doppel asks them one
    /// after the other, so that a call crashing the driver process never takes a
    /// sibling call in flight down with it. Set it with [`Manifest::reentrant`].
    #[serde(default)]
    pub reentrant: bool,
}

fn default_protocol() -> u32 {
    1
}

impl Manifest {
    /// Starts a manifest for driver `<group>.<name>` at `version`.
    pub fn new(group: &str, name: &str, version: &str) -> Manifest {
        Manifest {
            group: group.to_owned(),
            name: name.to_owned(),
            version: version.to_owned(),
            api_version: API_VERSION.to_owned(),
            protocol: PROTOCOL_VERSION,
            protocol_min: PROTOCOL_MIN,
            protocol_max: PROTOCOL_VERSION,
            description: String::new(),
            keywords: Vec::new(),
            actions: Vec::new(),
            options: Some(Vec::new()),
            node_options: Some(Vec::new()),
            call_timeouts: BTreeMap::new(),
            reentrant: false,
        }
    }

    /// Declares that status calls for several resources may run at once in the
    /// driver's process (no shared mutable state without locks, no tool that
    /// refuses concurrent queries): doppel refreshes them concurrently.
    ///
    /// ```
    /// use doppel_plugin_api::Manifest;
    ///
    /// // Each status is one independent read-only query of the array.
    /// let m = Manifest::new("sync", "mirror", "1.0.0").reentrant();
    /// assert!(m.reentrant);
    /// assert!(!Manifest::new("sync", "other", "1.0.0").reentrant);
    /// ```
    pub fn reentrant(mut self) -> Manifest {
        self.reentrant = true;
        self
    }

    /// Sets the time limit of entry point `entry` (`open`, `validate`, `status`,
    /// `action`, or an action name), rounded up to whole seconds.
    pub fn call_timeout(mut self, entry: &str, limit: std::time::Duration) -> Manifest {
        let secs = limit.as_secs() + u64::from(limit.subsec_nanos() > 0);
        self.call_timeouts.insert(entry.to_owned(), secs.max(1));
        self
    }

    /// Sets the one-line description.
    pub fn description(mut self, text: &str) -> Manifest {
        self.description = text.to_owned();
        self
    }

    /// Appends a keyword.
    pub fn keyword(mut self, keyword: KeywordSpec) -> Manifest {
        self.keywords.push(keyword);
        self
    }

    /// Appends an action.
    pub fn action(mut self, action: ActionSpec) -> Manifest {
        self.actions.push(action);
        self
    }

    /// Declares an action option the driver reads (`--opt <name>=...`, or `phase`
    /// for `--phase` and `clients` for `--clients`).
    ///
    /// ```
    /// use doppel_plugin_api::{Manifest, OptionSpec};
    /// let m = Manifest::new("sync", "mirror", "1.0.0")
    ///     .option(OptionSpec::new("since", "Resend what changed since then (1h, a date).").actions(&["recover"]));
    /// assert!(m.accepts_option("since", "recover"));
    /// assert!(!m.accepts_option("since", "sync_update"));
    /// assert!(!m.accepts_option("sinse", "recover"));
    /// ```
    pub fn option(mut self, option: OptionSpec) -> Manifest {
        self.options.get_or_insert_with(Vec::new).push(option);
        self
    }

    /// Declares a key of the driver's node-config table `[driver.<name>]`.
    ///
    /// ```
    /// use doppel_plugin_api::{Manifest, OptionSpec};
    /// let m = Manifest::new("sync", "mirror", "1.0.0")
    ///     .node_option(OptionSpec::new("bin", "Directory of the mirror tool."));
    /// assert!(m.node_options.unwrap().iter().any(|o| o.name == "bin"));
    /// ```
    pub fn node_option(mut self, option: OptionSpec) -> Manifest {
        self.node_options.get_or_insert_with(Vec::new).push(option);
        self
    }

    /// Does the driver read action option `name` for `action`? True for any
    /// option when the manifest predates option declarations (`options` is `None`).
    pub fn accepts_option(&self, name: &str, action: &str) -> bool {
        match &self.options {
            None => true,
            Some(list) => list.iter().any(|o| o.name == name && o.applies_to(action)),
        }
    }

    /// The protocol range the driver announces, `(min, max)`.
    pub fn protocol_range(&self) -> (u32, u32) {
        (self.protocol_min, self.protocol_max.max(self.protocol))
    }

    /// The `group.name` type string, e.g. `sync.symclone`.
    pub fn type_name(&self) -> String {
        format!("{}.{}", self.group, self.name)
    }

    /// The action named `name`, if the driver implements it.
    pub fn find_action(&self, name: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// The keyword named `name`, if the driver declares it.
    pub fn find_keyword(&self, name: &str) -> Option<&KeywordSpec> {
        self.keywords.iter().find(|k| k.name == name)
    }
}

/// An option a driver reads: an action option (see [`Manifest::option`]) or a key
/// of its node-config table (see [`Manifest::node_option`]).
///
/// ```
/// use doppel_plugin_api::OptionSpec;
/// let phase = OptionSpec::new("phase", "Only this phase.").actions(&["run"]);
/// assert!(phase.applies_to("run") && !phase.applies_to("wake"));
/// assert!(OptionSpec::new("bin", "Tool directory.").applies_to("anything"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptionSpec {
    /// The key, as in `--opt <name>=...` or `<name> = ...` in the node config.
    pub name: String,
    /// What it does, for `doppel drivers info` and error messages.
    #[serde(default)]
    pub desc: String,
    /// The actions that read this action option; empty: every action.
    #[serde(default)]
    pub actions: Vec<String>,
}

impl OptionSpec {
    /// An option read by every action.
    pub fn new(name: &str, desc: &str) -> OptionSpec {
        OptionSpec {
            name: name.to_owned(),
            desc: desc.to_owned(),
            actions: Vec::new(),
        }
    }

    /// Only these actions read the option.
    pub fn actions(mut self, actions: &[&str]) -> OptionSpec {
        self.actions = actions.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    /// Does `action` read it?
    pub fn applies_to(&self, action: &str) -> bool {
        self.actions.is_empty() || self.actions.iter().any(|a| a == action)
    }
}

/// How a keyword's value is read. doppel checks values against the type before a
/// driver ever sees them, and reports bad values with file and line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeywordType {
    /// A whole number (`3`, `3.0`).
    Integer,
    /// `true`/`false`, `yes`/`no`, `1`/`0`, ... (case-insensitive).
    Boolean,
    /// A whitespace-separated list.
    List,
    /// A duration: seconds, or unit groups like `1h30m`, `1d3h`, `300s`.
    Duration,
    /// A duration where a bare integer means minutes (`sync_max_delay = 1440`).
    DurationMinutes,
    /// A command line split like a POSIX shell would.
    Shlex,
    /// A size: bytes, or `512k`, `100m`, `2g`, `1t`.
    Size,
    /// Any text. Also what a type this version does not know (from a newer
    /// driver) reads as, so the driver still loads and its values pass as text.
    #[serde(other)]
    String,
}

impl KeywordType {
    /// The name used in templates and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            KeywordType::String => "string",
            KeywordType::Integer => "integer",
            KeywordType::Boolean => "boolean",
            KeywordType::List => "list",
            KeywordType::Duration => "duration",
            KeywordType::DurationMinutes => "duration_minutes",
            KeywordType::Shlex => "shlex",
            KeywordType::Size => "size",
        }
    }
}

impl fmt::Display for KeywordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// "This keyword only matters when `keyword` has one of `values`" (documentation only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeywordDepends {
    /// The other keyword.
    pub keyword: String,
    /// The values of the other keyword that make this one meaningful.
    pub values: Vec<String>,
}

/// One keyword of a driver, with the metadata OpenSVC templates show.
///
/// # Example
///
/// ```
/// use doppel_plugin_api::{KeywordSpec, KeywordType};
///
/// let symid = KeywordSpec::new("symid", KeywordType::String)
///     .required()
///     .not_scopable()
///     .desc("Identifier of the symmetrix array hosting the devices.")
///     .example("000197900123");
/// assert!(symid.required && !symid.scopable);
///
/// let precopy = KeywordSpec::new("precopy", KeywordType::Boolean)
///     .default_value("True")
///     .desc("Use -precopy on recreate.");
/// assert_eq!(precopy.default.as_deref(), Some("True"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeywordSpec {
    /// The keyword, as written in the service file.
    pub name: String,
    /// How the value is read.
    #[serde(rename = "type")]
    pub kind: KeywordType,
    /// The resource is invalid without it.
    #[serde(default)]
    pub required: bool,
    /// Only used by the `provision` action.
    #[serde(default)]
    pub provisioning: bool,
    /// The value used when the keyword is not set, as text.
    #[serde(default)]
    pub default: Option<String>,
    /// Text shown in templates instead of `default` when the default is computed.
    #[serde(default)]
    pub default_text: Option<String>,
    /// The allowed values, if restricted.
    #[serde(default)]
    pub candidates: Option<Vec<String>>,
    /// When false, `candidates` are suggestions and other values are accepted.
    #[serde(default = "yes")]
    pub strict_candidates: bool,
    /// Documentation-only conditions under which the keyword is meaningful.
    #[serde(default)]
    pub depends: Vec<KeywordDepends>,
    /// Whether `keyword@node` scoping is allowed.
    #[serde(default = "yes")]
    pub scopable: bool,
    /// The description shown in templates and `doppel drivers info`.
    #[serde(default)]
    pub desc: String,
    /// The value shown in templates when there is no default and no candidate.
    #[serde(default)]
    pub example: Option<String>,
}

fn yes() -> bool {
    true
}

impl KeywordSpec {
    /// A keyword of the given type: optional, scopable, no default.
    pub fn new(name: &str, kind: KeywordType) -> KeywordSpec {
        KeywordSpec {
            name: name.to_owned(),
            kind,
            required: false,
            provisioning: false,
            default: None,
            default_text: None,
            candidates: None,
            strict_candidates: true,
            depends: Vec::new(),
            scopable: true,
            desc: String::new(),
            example: None,
        }
    }

    /// Marks the keyword required.
    pub fn required(mut self) -> KeywordSpec {
        self.required = true;
        self
    }

    /// Marks the keyword as used by `provision` only.
    pub fn provisioning(mut self) -> KeywordSpec {
        self.provisioning = true;
        self
    }

    /// Forbids `keyword@node` scoping.
    pub fn not_scopable(mut self) -> KeywordSpec {
        self.scopable = false;
        self
    }

    /// Sets the default value (as text, converted like a written value).
    pub fn default_value(mut self, value: &str) -> KeywordSpec {
        self.default = Some(value.to_owned());
        self
    }

    /// Sets the text templates show for a computed default.
    pub fn default_text(mut self, text: &str) -> KeywordSpec {
        self.default_text = Some(text.to_owned());
        self
    }

    /// Restricts the value to `values`.
    pub fn candidates(mut self, values: &[&str]) -> KeywordSpec {
        self.candidates = Some(values.iter().map(|v| (*v).to_owned()).collect());
        self.strict_candidates = true;
        self
    }

    /// Suggests `values` without restricting the value to them.
    pub fn suggestions(mut self, values: &[&str]) -> KeywordSpec {
        self.candidates = Some(values.iter().map(|v| (*v).to_owned()).collect());
        self.strict_candidates = false;
        self
    }

    /// Documents that the keyword only matters when `keyword` is one of `values`.
    pub fn depends_on(mut self, keyword: &str, values: &[&str]) -> KeywordSpec {
        self.depends.push(KeywordDepends {
            keyword: keyword.to_owned(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        });
        self
    }

    /// Sets the description.
    pub fn desc(mut self, text: &str) -> KeywordSpec {
        self.desc = text.to_owned();
        self
    }

    /// Sets the example value shown in templates.
    pub fn example(mut self, value: &str) -> KeywordSpec {
        self.example = Some(value.to_owned());
        self
    }
}

/// An action a driver implements.
///
/// Standard action names are `start`, `stop`, `provision`, `unprovision`, `run`,
/// `sync_break`, `sync_resync`, `sync_update`, `sync_restore`, `sync_nodes`,
/// `sync_drp`. Any other name is a driver action the operator can run with
/// `doppel -s <svc> <name>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionSpec {
    /// The action name (`sync_update`, `activate`, ...).
    pub name: String,
    /// One line for `--help` and `doppel drivers info`.
    #[serde(default)]
    pub desc: String,
    /// False for actions that only read (they take no lock and run in `--dry-run`).
    #[serde(default = "yes")]
    pub state_changing: bool,
    /// True for actions that overwrite data the service's other resources use
    /// (recreating a clone, copying a clone back over its source). doppel refuses
    /// them while any non-sync resource of the service is up, unless `--force`:
    /// the driver need not check it. Absent in manifests of drivers built before
    /// it existed (protocol 1): false.
    #[serde(default)]
    pub destructive: bool,
}

impl ActionSpec {
    /// A driver-specific action.
    pub fn new(name: &str, desc: &str) -> ActionSpec {
        ActionSpec {
            name: name.to_owned(),
            desc: desc.to_owned(),
            state_changing: true,
            destructive: false,
        }
    }

    /// A standard action, described by doppel.
    pub fn standard(name: &str) -> ActionSpec {
        ActionSpec::new(name, "")
    }

    /// Marks the action read-only.
    pub fn read_only(mut self) -> ActionSpec {
        self.state_changing = false;
        self
    }

    /// Marks the action destructive: doppel refuses it while the service runs.
    ///
    /// ```
    /// use doppel_plugin_api::ActionSpec;
    ///
    /// // A clone refresh recreates the target devices under whatever uses them.
    /// let spec = ActionSpec::standard("sync_update").destructive();
    /// assert!(spec.destructive && spec.state_changing);
    /// ```
    pub fn destructive(mut self) -> ActionSpec {
        self.destructive = true;
        self
    }
}

/// A resource's configuration, as doppel hands it to [`Driver::open`](crate::Driver::open).
///
/// Keyword values are already resolved for this node (scopes, references, defaults)
/// and checked against their [`KeywordType`]; the typed getters cannot fail for a
/// keyword the manifest declares with that type.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceConfig {
    /// Service name.
    pub svcname: String,
    /// Resource id, e.g. `sync#0`.
    pub rid: String,
    /// This node's name.
    pub nodename: String,
    /// Driver keyword values (resolved text), including defaults.
    #[serde(default)]
    pub keywords: BTreeMap<String, String>,
    /// The driver's table from the node config (`[driver.<name>]`), e.g. `bin`.
    #[serde(default)]
    pub driver_options: BTreeMap<String, serde_json::Value>,
    /// A directory private to this resource, kept across runs.
    #[serde(default)]
    pub state_dir: PathBuf,
}

impl ResourceConfig {
    /// The raw text of a keyword, if set or defaulted.
    pub fn get(&self, keyword: &str) -> Option<&str> {
        self.keywords.get(keyword).map(String::as_str)
    }

    /// A keyword as text, or an error naming it when absent.
    pub fn require(&self, keyword: &str) -> Result<&str, crate::Error> {
        self.get(keyword).filter(|v| !v.is_empty()).ok_or_else(|| {
            crate::Error::invalid(format!("{}: keyword '{keyword}' is required", self.rid))
        })
    }

    /// A keyword's text, trimmed; `None` when unset or blank.
    ///
    /// ```
    /// # use doppel_plugin_api::ResourceConfig;
    /// let mut config = ResourceConfig::default();
    /// config.keywords.insert("site".into(), " paris ".into());
    /// config.keywords.insert("clan".into(), "  ".into());
    /// assert_eq!(config.get_text("site").as_deref(), Some("paris"));
    /// assert_eq!(config.get_text("clan"), None);
    /// ```
    pub fn get_text(&self, keyword: &str) -> Option<String> {
        self.get(keyword)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// A boolean keyword (`true`, `yes`, `1`, ... case-insensitive); `default` when unset.
    pub fn get_bool(&self, keyword: &str, default: bool) -> bool {
        match self.get(keyword) {
            Some(v) => matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "yes" | "y" | "true" | "t" | "1"
            ),
            None => default,
        }
    }

    /// A whitespace-separated list keyword; empty when unset.
    pub fn get_list(&self, keyword: &str) -> Vec<String> {
        self.get(keyword)
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// An integer keyword; `default` when unset or not a number.
    pub fn get_int(&self, keyword: &str, default: i64) -> i64 {
        self.get(keyword)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|f| f as i64)
            .unwrap_or(default)
    }

    /// A [`KeywordType::Duration`] keyword (`300`, `5m`, `1h 30m`); `default` when
    /// unset. The grammar is [`units::parse_duration`](crate::units::parse_duration),
    /// the one doppel validated the value with, so the value used is the value that
    /// validated.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use doppel_plugin_api::ResourceConfig;
    /// let mut config = ResourceConfig::default();
    /// config.keywords.insert("copy_timeout".into(), "1h 30m".into());
    /// assert_eq!(config.get_duration("copy_timeout", Duration::ZERO), Duration::from_secs(5400));
    /// assert_eq!(config.get_duration("other", Duration::from_secs(9)), Duration::from_secs(9));
    /// ```
    pub fn get_duration(&self, keyword: &str, default: std::time::Duration) -> std::time::Duration {
        self.get(keyword)
            .and_then(|v| crate::units::parse_duration(v).ok())
            .unwrap_or(default)
    }

    /// A [`KeywordType::DurationMinutes`] keyword (a bare number is minutes);
    /// `default` when unset.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use doppel_plugin_api::ResourceConfig;
    /// let mut config = ResourceConfig::default();
    /// config.keywords.insert("max_age".into(), "90".into());
    /// assert_eq!(config.get_duration_minutes("max_age", Duration::ZERO), Duration::from_secs(5400));
    /// ```
    pub fn get_duration_minutes(
        &self,
        keyword: &str,
        default: std::time::Duration,
    ) -> std::time::Duration {
        self.get(keyword)
            .and_then(|v| crate::units::parse_duration_minutes(v).ok())
            .unwrap_or(default)
    }

    /// A [`KeywordType::Size`] keyword in bytes (`512k`, `100m`, `1.5g`); `default`
    /// when unset.
    ///
    /// ```
    /// # use doppel_plugin_api::ResourceConfig;
    /// let mut config = ResourceConfig::default();
    /// config.keywords.insert("chunk".into(), "512k".into());
    /// assert_eq!(config.get_size("chunk", 0), 524_288);
    /// ```
    pub fn get_size(&self, keyword: &str, default: u64) -> u64 {
        self.get(keyword)
            .and_then(|v| crate::units::parse_size(v).ok())
            .unwrap_or(default)
    }

    /// A directory option of the driver's node-config table (e.g. `bin`), trimmed
    /// and without trailing slashes; `None` when unset or empty.
    ///
    /// ```
    /// # use doppel_plugin_api::ResourceConfig;
    /// let mut config = ResourceConfig::default();
    /// config.driver_options.insert("bin".into(), " /opt/tool/bin/ ".into());
    /// assert_eq!(config.dir_option("bin").as_deref(), Some("/opt/tool/bin"));
    /// assert_eq!(config.dir_option("etc"), None);
    /// ```
    pub fn dir_option(&self, name: &str) -> Option<String> {
        let raw = self.option(name)?.trim();
        if raw.is_empty() {
            return None;
        }
        let trimmed = raw.trim_end_matches('/');
        Some(if trimmed.is_empty() {
            "/".to_owned()
        } else {
            trimmed.to_owned()
        })
    }

    /// The path of the vendor tool `tool`: in the directory the node config gives
    /// under `option` (`[driver.<name>] bin = ...`), else in `default_dir`. Every
    /// driver should let operators relocate its tools this way.
    ///
    /// ```
    /// # use doppel_plugin_api::ResourceConfig;
    /// let mut config = ResourceConfig::default();
    /// assert_eq!(config.tool_path("bin", "/usr/symcli/bin", "symclone"), "/usr/symcli/bin/symclone");
    /// config.driver_options.insert("bin".into(), "/lab/sim/".into());
    /// assert_eq!(config.tool_path("bin", "/usr/symcli/bin", "symclone"), "/lab/sim/symclone");
    /// ```
    pub fn tool_path(&self, option: &str, default_dir: &str, tool: &str) -> String {
        let dir = self
            .dir_option(option)
            .unwrap_or_else(|| default_dir.trim_end_matches('/').to_owned());
        let dir = dir.trim_end_matches('/');
        format!("{dir}/{tool}")
    }

    /// A string option of the driver's node-config table, e.g. `bin`.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.driver_options.get(name).and_then(|v| v.as_str())
    }
}

/// Parses `300`, `300s`, `5m`, `1h30m`, `1h 30m`, `2d`, `1w` into a duration (bare
/// numbers are seconds): [`units::parse_duration`](crate::units::parse_duration)
/// without the reason of a refusal.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(doppel_plugin_api::parse_duration("1h30m"), Some(Duration::from_secs(5400)));
/// assert_eq!(doppel_plugin_api::parse_duration("1h 30m"), Some(Duration::from_secs(5400)));
/// assert_eq!(doppel_plugin_api::parse_duration("45"), Some(Duration::from_secs(45)));
/// assert_eq!(doppel_plugin_api::parse_duration("1.5h"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    crate::units::parse_duration(text).ok()
}

/// A problem found by [`Driver::validate`](crate::Driver::validate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// The keyword at fault, so doppel can point at its file and line.
    #[serde(default)]
    pub keyword: Option<String>,
    /// What is wrong, and ideally how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    /// `keyword: message`, or the message alone for the resource as a whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.keyword {
            Some(k) => write!(f, "{k}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl Problem {
    /// A problem with `keyword`.
    pub fn keyword(keyword: &str, message: impl Into<String>) -> Problem {
        Problem {
            keyword: Some(keyword.to_owned()),
            message: message.into(),
        }
    }

    /// A problem with the resource as a whole.
    pub fn resource(message: impl Into<String>) -> Problem {
        Problem {
            keyword: None,
            message: message.into(),
        }
    }
}

/// What doppel asks a resource to do.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionRequest {
    /// The action name, e.g. `sync_update` or `activate`.
    pub action: String,
    /// Do not change anything: state-changing commands are logged, not run.
    #[serde(default)]
    pub dry_run: bool,
    /// The operator passed `--force`.
    #[serde(default)]
    pub force: bool,
    /// Action options from the command line (`phase`, `clients`, ...).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// The service's aggregate availability before the action (`up`, `down`, ...),
    /// for drivers that refuse to run on a running service.
    #[serde(default)]
    pub service_avail: Option<Status>,
    /// Run by the scheduler rather than an operator.
    #[serde(default)]
    pub scheduled: bool,
}

/// What a resource reports after an action.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcome {
    /// Lines for the operator, logged at INFO.
    #[serde(default)]
    pub messages: Vec<String>,
    /// Set when the action found nothing to do.
    #[serde(default)]
    pub noop: bool,
}

/// A resource status, with OpenSVC's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    /// Running / in sync.
    #[serde(rename = "up")]
    Up,
    /// Stopped / not in sync.
    #[serde(rename = "down")]
    Down,
    /// Partly up, or up with a problem.
    #[serde(rename = "warn")]
    Warn,
    /// Not applicable (no status to report).
    #[serde(rename = "n/a")]
    NotApplicable,
    /// A standby resource that is up.
    #[serde(rename = "stdby up")]
    StdbyUp,
    /// A standby resource that is down.
    #[serde(rename = "stdby down")]
    StdbyDown,
    /// Unknown: the status could not be evaluated. Also what a status this
    /// version does not know (from a newer driver) reads as.
    #[serde(rename = "undef", other)]
    Undef,
}

impl Status {
    /// The status as OpenSVC writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Down => "down",
            Status::Warn => "warn",
            Status::NotApplicable => "n/a",
            Status::Undef => "undef",
            Status::StdbyUp => "stdby up",
            Status::StdbyDown => "stdby down",
        }
    }

    /// Parses the OpenSVC spelling (`stdby_up` and `n/a` forms included).
    pub fn parse(text: &str) -> Option<Status> {
        Some(match text.trim().replace('_', " ").as_str() {
            "up" => Status::Up,
            "down" => Status::Down,
            "warn" => Status::Warn,
            "n/a" | "na" => Status::NotApplicable,
            "undef" => Status::Undef,
            "stdby up" => Status::StdbyUp,
            "stdby down" => Status::StdbyDown,
            _ => return None,
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The severity of a status message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageLevel {
    /// Something the operator should look at.
    Warn,
    /// Something is broken.
    Error,
    /// For information. Also what a level this version does not know reads as.
    #[serde(other)]
    Info,
}

/// A line attached to a status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusMessage {
    /// Its severity.
    pub level: MessageLevel,
    /// Its text.
    pub text: String,
}

/// A resource's status as its driver sees it. doppel then applies `sync_max_delay`,
/// the `nostatus` tag, standby and the aggregation rules.
///
/// ```
/// use doppel_plugin_api::{Status, StatusReport};
/// let report = StatusReport::new(Status::Warn).warn("cloneset has 1/2 active devs");
/// assert_eq!(report.messages.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// The state.
    pub state: Status,
    /// Explanations, shown under the resource in `print status`.
    #[serde(default)]
    pub messages: Vec<StatusMessage>,
    /// When the data was last synchronised (RFC 3339), for sync resources.
    /// doppel compares it with `sync_max_delay`.
    #[serde(default)]
    pub last_sync: Option<String>,
}

impl StatusReport {
    /// A report with no messages.
    pub fn new(state: Status) -> StatusReport {
        StatusReport {
            state,
            messages: Vec::new(),
            last_sync: None,
        }
    }

    /// Adds an info line.
    pub fn info(mut self, text: impl Into<String>) -> StatusReport {
        self.messages.push(StatusMessage {
            level: MessageLevel::Info,
            text: text.into(),
        });
        self
    }

    /// Adds a warning line.
    pub fn warn(mut self, text: impl Into<String>) -> StatusReport {
        self.messages.push(StatusMessage {
            level: MessageLevel::Warn,
            text: text.into(),
        });
        self
    }

    /// Adds an error line.
    pub fn error(mut self, text: impl Into<String>) -> StatusReport {
        self.messages.push(StatusMessage {
            level: MessageLevel::Error,
            text: text.into(),
        });
        self
    }

    /// Sets the last synchronisation time (RFC 3339).
    pub fn last_sync(mut self, rfc3339: impl Into<String>) -> StatusReport {
        self.last_sync = Some(rfc3339.into());
        self
    }
}

/// A command a driver asks doppel to run.
///
/// Drivers never spawn processes themselves: doppel logs the command line, applies
/// `--dry-run` to state-changing commands, enforces the timeout, and logs the output
/// in OpenSVC's format.
///
/// ```
/// use doppel_plugin_api::CommandRequest;
/// let query = CommandRequest::new(["/usr/symcli/bin/symdev", "list"]).read_only();
/// assert!(query.read_only);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandRequest {
    /// Program and arguments; the program is used as given (no PATH search if it
    /// contains a `/`).
    pub argv: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Text written to the command's standard input.
    #[serde(default)]
    pub stdin: Option<String>,
    /// Kill the command after this many seconds.
    #[serde(default)]
    pub timeout_secs: Option<f64>,
    /// The command only reads: it runs even under `--dry-run`.
    #[serde(default)]
    pub read_only: bool,
    /// Do not log the command's standard output (for queries whose output is parsed).
    #[serde(default)]
    pub quiet: bool,
    /// Working directory.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Log each line of standard output and standard error at INFO as the command
    /// writes it, instead of the whole output once it ends: for long tool runs (a
    /// clone, a copy) whose progress the operator should see. The output is still
    /// returned whole in [`CommandOutput`]. Absent (false) from older drivers.
    #[serde(default)]
    pub stream: bool,
    /// Standard error of a successful run is the tool's normal progress output
    /// (SYMCLI writes it there): log it at INFO, not as the WARNING "command
    /// succesful but stderr". OpenSVC's `vcall(warn_to_info=True)`.
    #[serde(default)]
    pub warn_to_info: bool,
}

impl CommandRequest {
    /// A state-changing command.
    pub fn new<I, S>(argv: I) -> CommandRequest
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CommandRequest {
            argv: argv.into_iter().map(Into::into).collect(),
            ..CommandRequest::default()
        }
    }

    /// Streams the command's output to the log line by line while it runs (see
    /// [`CommandRequest::stream`](CommandRequest#structfield.stream)).
    ///
    /// ```
    /// use doppel_plugin_api::CommandRequest;
    ///
    /// // drd clone runs for an hour: its phases reach the console as they happen.
    /// let clone = CommandRequest::new(["/opt/drd/bin/drd", "clone", "-t", "/dev/disk/disk4"]).streamed();
    /// assert!(clone.stream && !clone.read_only);
    /// ```
    pub fn streamed(mut self) -> CommandRequest {
        self.stream = true;
        self
    }

    /// Marks the command as a read-only query (it also runs under `--dry-run`, and
    /// its output is not logged).
    pub fn read_only(mut self) -> CommandRequest {
        self.read_only = true;
        self.quiet = true;
        self
    }

    /// Logs the standard error of a successful run at INFO (see
    /// the `warn_to_info` field).
    ///
    /// ```
    /// use doppel_plugin_api::CommandRequest;
    /// let request = CommandRequest::new(["/usr/symcli/bin/symclone", "-noprompt", "activate"]).warn_to_info();
    /// assert!(request.warn_to_info);
    /// ```
    pub fn warn_to_info(mut self) -> CommandRequest {
        self.warn_to_info = true;
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: std::time::Duration) -> CommandRequest {
        self.timeout_secs = Some(timeout.as_secs_f64());
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> CommandRequest {
        self.env.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets the standard input.
    pub fn stdin(mut self, text: impl Into<String>) -> CommandRequest {
        self.stdin = Some(text.into());
        self
    }

    /// The argv of a command written as one line, the way doppel runs triggers and
    /// `app.script` commands: a line using `|`, `&&` or `;` runs through
    /// `/bin/sh -c`, any other is split like a POSIX shell line. `None` when the
    /// line is empty or its quotes do not balance.
    ///
    /// ```
    /// use doppel_plugin_api::CommandRequest;
    /// assert_eq!(CommandRequest::line_argv("fsck -n '/dev/my disk'").unwrap(), ["fsck", "-n", "/dev/my disk"]);
    /// assert_eq!(CommandRequest::line_argv("sync; echo done").unwrap(), ["/bin/sh", "-c", "sync; echo done"]);
    /// assert_eq!(CommandRequest::line_argv("echo 'open"), None);
    /// ```
    pub fn line_argv(line: &str) -> Option<Vec<String>> {
        if line.contains('|') || line.contains("&&") || line.contains(';') {
            return Some(vec!["/bin/sh".to_owned(), "-c".to_owned(), line.to_owned()]);
        }
        shlex::split(line).filter(|argv| !argv.is_empty())
    }

    /// The command line as a shell would show it.
    pub fn display(&self) -> String {
        self.argv
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+#".contains(c));
    if safe {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// How a command run by doppel ended.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// The exit code; `None` when killed by a signal, timed out, or not run.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Standard output.
    #[serde(default)]
    pub stdout: String,
    /// Standard error.
    #[serde(default)]
    pub stderr: String,
    /// Not run because of `--dry-run`.
    #[serde(default)]
    pub dry_run: bool,
    /// Killed after its timeout.
    #[serde(default)]
    pub timed_out: bool,
}

impl CommandOutput {
    /// The output of a command that exited with `code` (for test doubles).
    pub fn exited(code: i32, stdout: &str, stderr: &str) -> CommandOutput {
        CommandOutput {
            exit_code: Some(code),
            stdout: stdout.to_owned(),
            stderr: stderr.to_owned(),
            ..CommandOutput::default()
        }
    }

    /// True when the command ran and exited 0, or was skipped by `--dry-run`.
    pub fn success(&self) -> bool {
        self.dry_run || self.exit_code == Some(0)
    }

    /// The last non-empty line of stderr, trimmed, or of stdout when stderr has
    /// none: what to quote when a command fails. Empty when both are blank.
    ///
    /// ```
    /// # use doppel_plugin_api::CommandOutput;
    /// let out = CommandOutput::exited(1, "progress\n", "error: no such disk\n\n");
    /// assert_eq!(out.last_line(), "error: no such disk");
    /// assert_eq!(CommandOutput::exited(1, " done \n", "").last_line(), "done");
    /// ```
    pub fn last_line(&self) -> &str {
        fn last(text: &str) -> Option<&str> {
            text.lines().rev().map(str::trim).find(|l| !l.is_empty())
        }
        last(&self.stderr)
            .or_else(|| last(&self.stdout))
            .unwrap_or("")
    }
}

/// Log levels for [`Host::log`](crate::Host::log).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum Level {
    /// Something failed.
    Error = 1,
    /// Something looks wrong.
    Warn = 2,
    /// What an operator wants to see. Also what an unknown numeric level
    /// reads as ([`Level::from_u8`]): the ABI carries levels as numbers.
    Info = 3,
    /// Details for `-v`.
    Debug = 4,
    /// Everything.
    Trace = 5,
}

impl Level {
    /// From the numeric form used across the ABI (unknown values read as `Info`).
    pub fn from_u8(value: u8) -> Level {
        match value {
            1 => Level::Error,
            2 => Level::Warn,
            4 => Level::Debug,
            5 => Level::Trace,
            _ => Level::Info,
        }
    }
}

/// The kind of a driver [`Error`](crate::Error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The action failed.
    Failed,
    /// The configuration is not usable.
    Invalid,
    /// The operator cancelled (Ctrl-C).
    Cancelled,
    /// The driver does not implement the method or action.
    Unsupported,
    /// The driver panicked; doppel carries on.
    Panicked,
    /// An error kind this version does not know (sent by a newer peer).
    #[serde(other)]
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_from_before_option_declarations_accepts_any_option() {
        // What a driver built against an older plugin-api sends: no options fields.
        let old: Manifest =
            serde_json::from_str(r#"{"group":"sync","name":"old","version":"0.9.0"}"#)
                .expect("old manifest");
        assert_eq!(
            (old.options.clone(), old.node_options.clone()),
            (None, None)
        );
        assert!(old.accepts_option("anything", "sync_update"));
        // A driver built now declares what it reads, possibly nothing.
        let new = Manifest::new("sync", "new", "1.0.0");
        assert_eq!(new.options, Some(Vec::new()));
        assert!(!new.accepts_option("anything", "sync_update"));
        let back: Manifest =
            serde_json::from_str(&serde_json::to_string(&new).expect("json")).expect("parse");
        assert_eq!(back, new);
    }
}
