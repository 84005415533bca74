//! The messages exchanged between doppel and a driver.
//!
//! Every message crosses the ABI as JSON text, so the messages (not the ABI) are what
//! evolves: a newer doppel adds fields with defaults, an older driver ignores what it
//! does not know, and [`PROTOCOL_VERSION`] tells either side what the other speaks.
//! Every field added after protocol 1 must carry `#[serde(default)]`.
//!
//! ## Building messages
//!
//! The message structs are `#[non_exhaustive]`: their fields are public to read
//! and to assign, but a driver cannot build one with a struct literal (nor with
//! `..Default::default()`). It uses the constructors and builder methods
//! ([`Manifest::new`], [`KeywordSpec::new`], [`ResourceConfig::new`],
//! [`ActionRequest::new`], [`ActionOutcome::new`], [`StatusReport::new`],
//! [`CommandRequest::new`], [`CommandOutput::exited`], ...), so that a field added
//! in a later 1.x release breaks no driver's source: it gets its default.
//!
//! ```
//! use doppel_plugin_api::{ActionOutcome, ActionRequest, ResourceConfig};
//!
//! // In a driver's unit test:
//! let config = ResourceConfig::new("demo", "sync#0", "n1").keyword("src", "/srv/data");
//! let request = ActionRequest::new("sync_update").dry_run();
//! let mut outcome = ActionOutcome::new().message("copied /srv/data");
//! outcome.noop = config.get("src").is_none(); // fields stay assignable
//! assert!(request.dry_run && !outcome.noop);
//! ```
//!
//! [`ErrorKind`] is `#[non_exhaustive]` too (match it with a `_` arm). The other
//! enums ([`KeywordType`], [`Status`], [`MessageLevel`], [`Level`]) are closed
//! within 1.x; a value a newer peer sends reads as the fallback each documents.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The version of the message protocol this crate speaks.
///
/// It is written into every driver's [`Manifest`] at build time. The host accepts
/// drivers of any protocol version up to its own and adapts to older ones.
///
/// ```
/// use doppel_plugin_api::{Manifest, PROTOCOL_MIN, PROTOCOL_VERSION};
/// let m = Manifest::new("sync", "mirror", "1.0.0");
/// assert_eq!(m.protocol_range(), (PROTOCOL_MIN, PROTOCOL_VERSION));
/// ```
pub const PROTOCOL_VERSION: u32 = 1;

/// The oldest message protocol this crate still speaks. A peer announces the range
/// `PROTOCOL_MIN..=PROTOCOL_VERSION`; both sides use [`negotiate`]'s answer.
///
/// ```
/// assert!(doppel_plugin_api::PROTOCOL_MIN <= doppel_plugin_api::PROTOCOL_VERSION);
/// ```
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
///
/// ```
/// use doppel_plugin_api::testing::FakeHost;
/// let host = FakeHost::new(|_| Ok(Default::default())).host();
/// let features = host.features();
/// if features.has("now") {
///     let _stamp = host.now(); // RFC 3339
/// }
/// assert_eq!(features.negotiated(), Some(1));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// A host speaking protocols `min..=max` with no named service yet; add them
    /// with [`HostFeatures::feature`]. For test doubles and hosts other than doppel.
    ///
    /// ```
    /// use doppel_plugin_api::HostFeatures;
    /// let features = HostFeatures::new(1, 2).feature("now");
    /// assert_eq!((features.protocol_min, features.protocol_max), (1, 2));
    /// assert!(features.has("now") && !features.has("progress"));
    /// ```
    pub fn new(min: u32, max: u32) -> HostFeatures {
        HostFeatures {
            protocol_min: min,
            protocol_max: max,
            features: Vec::new(),
        }
    }

    /// Adds the named service `name`.
    pub fn feature(mut self, name: &str) -> HostFeatures {
        self.features.push(name.to_owned());
        self
    }

    /// What a host that does not answer `features` offers: protocol 1, and no
    /// named service known for sure.
    ///
    /// ```
    /// use doppel_plugin_api::HostFeatures;
    /// let old = HostFeatures::protocol1();
    /// assert_eq!((old.protocol_min, old.protocol_max, old.has("now")), (1, 1, false));
    /// ```
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
    ///
    /// ```
    /// use doppel_plugin_api::HostFeatures;
    /// assert!(HostFeatures::current().has("progress"));
    /// ```
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
///
/// ```
/// use doppel_plugin_api::{API_VERSION, Manifest};
/// assert_eq!(Manifest::new("sync", "mirror", "0.3.1").api_version, API_VERSION);
/// assert!(API_VERSION.starts_with("1."));
/// ```
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
#[non_exhaustive]
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
    /// The driver can reconcile an interrupted run: when doppel was killed while
    /// a tool command of this driver ran, the next status or action calls
    /// [`Driver::call`](crate::Driver::call) with method [`RECONCILE_METHOD`] and an
    /// [`InterruptedRun`], once the command has ended, so the driver records what the
    /// tool left behind. Absent in manifests of drivers built before it (protocol 1):
    /// false, and such a resource is `undef` after an interrupted run ("driver X
    /// cannot reconcile an interrupted run") until an action runs on it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reconciles: bool,
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
            reconciles: false,
            reentrant: false,
        }
    }

    /// Declares that the driver reconciles interrupted runs (see
    /// [`Manifest::reconciles`]): its [`Driver::call`](crate::Driver::call) answers
    /// [`RECONCILE_METHOD`].
    ///
    /// ```
    /// use doppel_plugin_api::Manifest;
    /// let m = Manifest::new("sync", "mirror", "1.0.0").reconciles();
    /// assert!(m.reconciles);
    /// assert!(!Manifest::new("sync", "other", "1.0.0").reconciles);
    /// ```
    pub fn reconciles(mut self) -> Manifest {
        self.reconciles = true;
        self
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

    /// Sets the protocol range the driver announces (`protocol`, `protocol_min`,
    /// `protocol_max`). [`Manifest::new`] and [`export_driver!`](crate::export_driver)
    /// set this crate's own range; only a driver that deliberately speaks less (or
    /// a test simulating an older or newer peer) calls it.
    ///
    /// ```
    /// use doppel_plugin_api::Manifest;
    /// let m = Manifest::new("sync", "mirror", "1.0.0").speaks(1, 2);
    /// assert_eq!(m.protocol_range(), (1, 2));
    /// ```
    pub fn speaks(mut self, min: u32, max: u32) -> Manifest {
        self.protocol = max;
        self.protocol_min = min;
        self.protocol_max = max;
        self
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
#[non_exhaustive]
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
/// driver ever sees them, and reports bad values with file and line. Read each
/// with its getter: [`ResourceConfig::get_int`], [`get_bool`](ResourceConfig::get_bool),
/// [`get_list`](ResourceConfig::get_list), [`get_duration`](ResourceConfig::get_duration),
/// [`get_duration_minutes`](ResourceConfig::get_duration_minutes),
/// [`get_shell_words`](ResourceConfig::get_shell_words), [`get_size`](ResourceConfig::get_size).
///
/// ```
/// use doppel_plugin_api::{KeywordSpec, KeywordType};
/// let timeout = KeywordSpec::new("copy_timeout", KeywordType::Duration).default_value("1h");
/// assert_eq!(timeout.kind.as_str(), "duration");
/// // A type a newer driver declares and this version does not know reads as text.
/// let kind: KeywordType = serde_json::from_str(r#""ip_address""#).unwrap();
/// assert_eq!(kind, KeywordType::String);
/// ```
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
    /// Words split like a POSIX shell would (quotes group, nothing is expanded):
    /// a command line, or a list whose items may hold spaces. Read it with
    /// [`ResourceConfig::get_shell_words`].
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
#[non_exhaustive]
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
#[non_exhaustive]
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

impl KeywordDepends {
    /// "Only meaningful when `keyword` is one of `values`" (what
    /// [`KeywordSpec::depends_on`] adds).
    ///
    /// ```
    /// use doppel_plugin_api::KeywordDepends;
    /// let d = KeywordDepends::new("mode", &["clone"]);
    /// assert_eq!((d.keyword.as_str(), d.values.len()), ("mode", 1));
    /// ```
    pub fn new(keyword: &str, values: &[&str]) -> KeywordDepends {
        KeywordDepends {
            keyword: keyword.to_owned(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }
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
        self.depends.push(KeywordDepends::new(keyword, values));
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
///
/// ```
/// use doppel_plugin_api::ActionSpec;
/// let verify = ActionSpec::new("verify", "Compare the mirror with its source.").read_only();
/// assert!(!verify.state_changing && !verify.destructive);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
///
/// ```
/// use doppel_plugin_api::ResourceConfig;
/// let config = ResourceConfig::new("demo", "sync#0", "n1")
///     .keyword("pairs", "00B60:00B61 00B62:00B63")
///     .keyword("consistent", "yes");
/// assert_eq!(config.get_list("pairs"), ["00B60:00B61", "00B62:00B63"]);
/// assert!(config.get_bool("consistent", false));
/// assert_eq!(config.require("symid").unwrap_err().message, "sync#0: keyword 'symid' is required");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// The configuration of resource `rid` of service `svcname` on node
    /// `nodename`, with no keyword set: doppel builds it for [`Driver::open`](crate::Driver::open);
    /// a driver's unit tests build their own with the methods below.
    ///
    /// ```
    /// use doppel_plugin_api::ResourceConfig;
    /// let config = ResourceConfig::new("demo", "sync#0", "n1")
    ///     .keyword("src", "/srv/data")
    ///     .driver_option("bin", "/opt/mirror/bin")
    ///     .state_dir("/tmp/state/sync#0");
    /// assert_eq!(config.get("src"), Some("/srv/data"));
    /// assert_eq!(config.option("bin"), Some("/opt/mirror/bin"));
    /// assert_eq!(config.state_dir, std::path::Path::new("/tmp/state/sync#0"));
    /// ```
    pub fn new(svcname: &str, rid: &str, nodename: &str) -> ResourceConfig {
        ResourceConfig {
            svcname: svcname.to_owned(),
            rid: rid.to_owned(),
            nodename: nodename.to_owned(),
            ..ResourceConfig::default()
        }
    }

    /// Sets keyword `name` to `value` (resolved text, as doppel passes it).
    pub fn keyword(mut self, name: &str, value: &str) -> ResourceConfig {
        self.keywords.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Sets key `name` of the driver's node-config table (`[driver.<name>]`).
    pub fn driver_option(
        mut self,
        name: &str,
        value: impl Into<serde_json::Value>,
    ) -> ResourceConfig {
        self.driver_options.insert(name.to_owned(), value.into());
        self
    }

    /// Sets the resource's private state directory.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> ResourceConfig {
        self.state_dir = dir.into();
        self
    }

    /// The raw text of a keyword, if set or defaulted.
    ///
    /// ```
    /// # use doppel_plugin_api::ResourceConfig;
    /// let config = ResourceConfig::new("demo", "sync#0", "n1").keyword("src", " /srv ");
    /// assert_eq!(config.get("src"), Some(" /srv "));
    /// assert_eq!(config.get("dst"), None);
    /// ```
    pub fn get(&self, keyword: &str) -> Option<&str> {
        self.keywords.get(keyword).map(String::as_str)
    }

    /// A keyword as text, or an error naming it when absent or empty.
    ///
    /// ```
    /// # use doppel_plugin_api::ResourceConfig;
    /// let config = ResourceConfig::new("demo", "sync#0", "n1").keyword("src", "/srv").keyword("dst", "");
    /// assert_eq!(config.require("src").unwrap(), "/srv");
    /// assert!(config.require("dst").is_err());
    /// ```
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
    ///
    /// ```
    /// # use doppel_plugin_api::ResourceConfig;
    /// let config = ResourceConfig::new("demo", "sync#0", "n1").keyword("precopy", "True");
    /// assert!(config.get_bool("precopy", false));
    /// assert!(config.get_bool("consistent", true));
    /// ```
    pub fn get_bool(&self, keyword: &str, default: bool) -> bool {
        match self.get(keyword) {
            Some(v) => matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "yes" | "y" | "true" | "t" | "1"
            ),
            None => default,
        }
    }

    /// A whitespace-separated [`KeywordType::List`] keyword; empty when unset.
    /// Quotes are not special here: for items that may hold spaces, declare the
    /// keyword [`KeywordType::Shlex`] and read it with
    /// [`get_shell_words`](ResourceConfig::get_shell_words).
    ///
    /// ```
    /// # use doppel_plugin_api::ResourceConfig;
    /// let config = ResourceConfig::new("demo", "sync#0", "n1").keyword("clients", " lpar1  lpar2 ");
    /// assert_eq!(config.get_list("clients"), ["lpar1", "lpar2"]);
    /// assert!(config.get_list("unset").is_empty());
    /// ```
    pub fn get_list(&self, keyword: &str) -> Vec<String> {
        self.get(keyword)
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// A shell-like list keyword ([`KeywordType::Shlex`]), split into words with
    /// POSIX shell quoting rules: whitespace separates words, `'...'` and `"..."`
    /// group them, `\` escapes. Empty when unset or blank.
    ///
    /// Nothing is expanded or run: no shell is involved (never `sh -c`), so
    /// `$HOME`, `$(...)`, backquotes, globs, `;`, `|` and `&&` are plain
    /// characters of a word. Each word can go straight into a
    /// [`CommandRequest`]'s argv. An error names the resource and keyword when
    /// the quotes do not balance (doppel refuses such a value for a keyword
    /// declared `shlex`, so a driver only sees it for other types).
    ///
    /// ```
    /// # use doppel_plugin_api::ResourceConfig;
    /// let config = ResourceConfig::new("demo", "sync#0", "n1")
    ///     .keyword("sync_list", r#"/etc/hosts '/srv/my data' "/opt/a b" /var/\$x"#)
    ///     .keyword("bad", "'open");
    /// assert_eq!(
    ///     config.get_shell_words("sync_list").unwrap(),
    ///     ["/etc/hosts", "/srv/my data", "/opt/a b", "/var/$x"]
    /// );
    /// assert!(config.get_shell_words("unset").unwrap().is_empty());
    /// assert_eq!(
    ///     config.get_shell_words("bad").unwrap_err().message,
    ///     "sync#0: keyword 'bad': unbalanced quotes in \"'open\""
    /// );
    /// ```
    #[doc(alias = "shlex")]
    pub fn get_shell_words(&self, keyword: &str) -> Result<Vec<String>, crate::Error> {
        let Some(text) = self.get(keyword) else {
            return Ok(Vec::new());
        };
        shlex::split(text).ok_or_else(|| {
            crate::Error::invalid(format!(
                "{}: keyword '{keyword}': unbalanced quotes in {text:?}",
                self.rid
            ))
        })
    }

    /// An integer keyword; `default` when unset or not a number.
    ///
    /// ```
    /// # use doppel_plugin_api::ResourceConfig;
    /// let config = ResourceConfig::new("demo", "sync#0", "n1").keyword("retries", "3.0");
    /// assert_eq!(config.get_int("retries", 1), 3);
    /// assert_eq!(config.get_int("unset", 1), 1);
    /// ```
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
    ///
    /// ```
    /// # use doppel_plugin_api::ResourceConfig;
    /// let config = ResourceConfig::new("demo", "sync#0", "n1").driver_option("bin", "/opt/tool/bin");
    /// assert_eq!(config.option("bin"), Some("/opt/tool/bin"));
    /// ```
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
///
/// ```
/// use doppel_plugin_api::Problem;
/// assert_eq!(Problem::keyword("pairs", "00B60 has no target").to_string(), "pairs: 00B60 has no target");
/// assert_eq!(Problem::resource("no device listed").to_string(), "no device listed");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
#[non_exhaustive]
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

impl ActionRequest {
    /// A request to run `action`, with no option and no flag set: what doppel
    /// sends, and what a driver's unit tests build.
    ///
    /// ```
    /// use doppel_plugin_api::{ActionRequest, Status};
    /// let request = ActionRequest::new("sync_resync")
    ///     .dry_run()
    ///     .force()
    ///     .option("phase", "2")
    ///     .service_avail(Status::Up);
    /// assert!(request.dry_run && request.force && !request.scheduled);
    /// assert_eq!(request.options["phase"], "2");
    /// ```
    pub fn new(action: &str) -> ActionRequest {
        ActionRequest {
            action: action.to_owned(),
            ..ActionRequest::default()
        }
    }

    /// Sets `dry_run` (`--dry-run`).
    pub fn dry_run(mut self) -> ActionRequest {
        self.dry_run = true;
        self
    }

    /// Sets `force` (`--force`).
    pub fn force(mut self) -> ActionRequest {
        self.force = true;
        self
    }

    /// Sets `scheduled` (run by the scheduler).
    pub fn scheduled(mut self) -> ActionRequest {
        self.scheduled = true;
        self
    }

    /// Sets action option `name` (`--opt name=value`, `phase`, `clients`).
    pub fn option(mut self, name: &str, value: &str) -> ActionRequest {
        self.options.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Sets the service's availability before the action.
    pub fn service_avail(mut self, avail: Status) -> ActionRequest {
        self.service_avail = Some(avail);
        self
    }
}

/// What a resource reports after an action.
///
/// ```
/// use doppel_plugin_api::ActionOutcome;
/// let done = ActionOutcome::new().message("clone re-created on /dev/disk/disk4");
/// assert!(!done.noop);
/// let idle = ActionOutcome::nothing_to_do("already in sync");
/// assert!(idle.noop && idle.messages == ["already in sync"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActionOutcome {
    /// Lines for the operator, logged at INFO.
    #[serde(default)]
    pub messages: Vec<String>,
    /// Set when the action found nothing to do: the resource was already as
    /// asked (a clone already exists, a copy is already current), so nothing was
    /// changed. Protocol-1 doppel treats a `noop` outcome like any other success
    /// (it logs the messages at INFO, runs the `post_` triggers, and the action
    /// counts as done for the service); say in a message *why* there was
    /// nothing to do. Use [`ActionOutcome::nothing_to_do`]. Never set it for an
    /// action that changed something, nor for a `--dry-run`: a dry run did
    /// nothing because it was told not to, not because nothing was needed.
    #[serde(default)]
    pub noop: bool,
}

impl ActionOutcome {
    /// An action that did its work, with no message yet.
    pub fn new() -> ActionOutcome {
        ActionOutcome::default()
    }

    /// An action that found nothing to do, saying why (`noop` set).
    pub fn nothing_to_do(why: impl Into<String>) -> ActionOutcome {
        ActionOutcome::new().message(why).noop()
    }

    /// Adds a line for the operator.
    pub fn message(mut self, text: impl Into<String>) -> ActionOutcome {
        self.messages.push(text.into());
        self
    }

    /// Adds lines for the operator.
    pub fn messages<I, S>(mut self, lines: I) -> ActionOutcome
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.messages.extend(lines.into_iter().map(Into::into));
        self
    }

    /// Marks the outcome `noop`: the action found nothing to do.
    pub fn noop(mut self) -> ActionOutcome {
        self.noop = true;
        self
    }
}

/// A resource status, with OpenSVC's values.
///
/// ```
/// use doppel_plugin_api::Status;
/// assert_eq!(Status::parse("stdby_up"), Some(Status::StdbyUp));
/// assert_eq!(Status::StdbyUp.to_string(), "stdby up");
/// // A status a newer driver sends and this version does not know:
/// assert_eq!(serde_json::from_str::<Status>(r#""degraded""#).unwrap(), Status::Undef);
/// ```
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
///
/// ```
/// use doppel_plugin_api::MessageLevel;
/// assert_eq!(serde_json::from_str::<MessageLevel>(r#""notice""#).unwrap(), MessageLevel::Info);
/// ```
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
#[non_exhaustive]
pub struct StatusMessage {
    /// Its severity.
    pub level: MessageLevel,
    /// Its text.
    pub text: String,
}

impl StatusMessage {
    /// A line at `level`.
    ///
    /// ```
    /// use doppel_plugin_api::{MessageLevel, StatusMessage};
    /// let m = StatusMessage::new(MessageLevel::Warn, "1/2 devices active");
    /// assert_eq!((m.level, m.text.as_str()), (MessageLevel::Warn, "1/2 devices active"));
    /// ```
    pub fn new(level: MessageLevel, text: impl Into<String>) -> StatusMessage {
        StatusMessage {
            level,
            text: text.into(),
        }
    }
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
#[non_exhaustive]
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
        self.messages
            .push(StatusMessage::new(MessageLevel::Info, text));
        self
    }

    /// Adds a warning line.
    pub fn warn(mut self, text: impl Into<String>) -> StatusReport {
        self.messages
            .push(StatusMessage::new(MessageLevel::Warn, text));
        self
    }

    /// Adds an error line.
    pub fn error(mut self, text: impl Into<String>) -> StatusReport {
        self.messages
            .push(StatusMessage::new(MessageLevel::Error, text));
        self
    }

    /// Adds a line at `level`.
    pub fn message(mut self, level: MessageLevel, text: impl Into<String>) -> StatusReport {
        self.messages.push(StatusMessage::new(level, text));
        self
    }

    /// Sets the last synchronisation time (RFC 3339).
    pub fn last_sync(mut self, rfc3339: impl Into<String>) -> StatusReport {
        self.last_sync = Some(rfc3339.into());
        self
    }
}

/// The [`Driver::call`](crate::Driver::call) method doppel calls on a driver whose
/// manifest says [`Manifest::reconciles`], with an [`InterruptedRun`] as request; the
/// driver answers an [`ActionOutcome`] (its `messages` are logged and kept in the
/// service log).
pub const RECONCILE_METHOD: &str = "reconcile";

/// A tool command of a resource that was running when the doppel that started it
/// was killed (SIGKILL, out of memory, a lost terminal), and that has ended since.
/// Nobody saw how it ended: the driver finds out from what the tool leaves
/// behind (its query, its log), records that with
/// [`Host::state_put`](crate::Host::state_put) as its own action would have, and
/// says what it found. It must not guess, and must not run a state-changing
/// command: the operator decides what to do next.
///
/// ```
/// use doppel_plugin_api::InterruptedRun;
/// let run: InterruptedRun = serde_json::from_str(
///     r#"{"action": "sync_update", "argv": ["/opt/drd/bin/drd", "clone", "-t", "/dev/disk/disk2"],
///        "pid": 4242, "started": "2026-12-03T12:01:00Z"}"#,
/// ).unwrap();
/// assert_eq!(run.program(), "drd");
/// assert_eq!(run.argv[1], "clone");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InterruptedRun {
    /// The action that ran it (`sync_update`, `run`, ...).
    pub action: String,
    /// The command line, as the driver asked for it (before any `ssh` wrapping).
    pub argv: Vec<String>,
    /// Its process id.
    #[serde(default)]
    pub pid: u32,
    /// When it started (RFC 3339).
    #[serde(default)]
    pub started: String,
}

impl InterruptedRun {
    /// The program's file name (`drd` for `/opt/drd/bin/drd`).
    pub fn program(&self) -> &str {
        let first = self.argv.first().map(String::as_str).unwrap_or("");
        first.rsplit('/').next().unwrap_or(first)
    }

    /// The value following `flag` in [`InterruptedRun::argv`] (`-c` → the client).
    ///
    /// ```
    /// use doppel_plugin_api::InterruptedRun;
    /// let run = InterruptedRun { argv: vec!["nimadm".into(), "-c".into(), "lpar1".into()], ..Default::default() };
    /// assert_eq!(run.flag_value("-c"), Some("lpar1"));
    /// assert_eq!(run.flag_value("-s"), None);
    /// ```
    pub fn flag_value(&self, flag: &str) -> Option<&str> {
        let i = self.argv.iter().position(|a| a == flag)?;
        self.argv.get(i + 1).map(String::as_str)
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
#[non_exhaustive]
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
    /// The command only reads: it runs even under `--dry-run`. This is about
    /// *whether* it runs; [`quiet`](CommandRequest#structfield.quiet) is about
    /// what is logged. Set it only for commands that change nothing: under
    /// `--dry-run` everything else is logged as `dry-run: <command>` and skipped.
    #[serde(default)]
    pub read_only: bool,
    /// Log less: the command line at DEBUG instead of INFO, standard output and
    /// the standard error of a successful run not at all, the standard error
    /// of a failed run at DEBUG instead of ERROR (the driver reads the output
    /// and decides what the operator sees). It does not change whether the
    /// command runs under `--dry-run`. For queries whose output is parsed, or a
    /// state-changing command whose output is noise or secret.
    ///
    /// | builder | runs under `--dry-run` | logged |
    /// |---|---|---|
    /// | `CommandRequest::new(..)` | no (logged as skipped) | line at INFO, stdout at INFO, stderr as WARNING/ERROR |
    /// | `.read_only()` (sets both) | yes | line at DEBUG, output not logged |
    /// | `.quiet()` alone | no | line at DEBUG, output not logged |
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
    /// A state-changing command (skipped under `--dry-run`, output logged).
    ///
    /// ```
    /// use doppel_plugin_api::CommandRequest;
    /// let copy = CommandRequest::new(["/usr/bin/rsync", "-a", "/srv/", "/mnt/copy/"]);
    /// assert_eq!(copy.display(), "/usr/bin/rsync -a /srv/ /mnt/copy/");
    /// assert!(!copy.read_only && !copy.quiet);
    /// ```
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

    /// Marks the command as a read-only query: it also runs under `--dry-run`,
    /// and is [`quiet`](CommandRequest::quiet) (its output is the driver's to
    /// parse, not the operator's to read).
    ///
    /// ```
    /// use doppel_plugin_api::CommandRequest;
    /// let query = CommandRequest::new(["/usr/sbin/lspv"]).read_only();
    /// assert!(query.read_only && query.quiet);
    /// ```
    pub fn read_only(mut self) -> CommandRequest {
        self.read_only = true;
        self.quiet = true;
        self
    }

    /// Logs less (see the `quiet` field) without making the command read-only:
    /// it is still skipped under `--dry-run`.
    ///
    /// ```
    /// use doppel_plugin_api::CommandRequest;
    /// let login = CommandRequest::new(["/opt/vault/bin/login", "--token-stdin"]).stdin("s3cret").quiet();
    /// assert!(login.quiet && !login.read_only);
    /// ```
    pub fn quiet(mut self) -> CommandRequest {
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
///
/// ```
/// use doppel_plugin_api::CommandOutput;
/// let out = CommandOutput::exited(1, "", "mirror: source missing\n");
/// assert!(!out.success());
/// assert_eq!(out.last_line(), "mirror: source missing");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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

    /// A state-changing command skipped by `--dry-run` (what doppel answers
    /// under `--dry-run`; [`CommandOutput::success`] is true).
    ///
    /// ```
    /// use doppel_plugin_api::CommandOutput;
    /// assert!(CommandOutput::skipped().dry_run && CommandOutput::skipped().success());
    /// ```
    pub fn skipped() -> CommandOutput {
        CommandOutput {
            dry_run: true,
            ..CommandOutput::default()
        }
    }

    /// A command killed after its timeout, with what it wrote before.
    ///
    /// ```
    /// use doppel_plugin_api::CommandOutput;
    /// let out = CommandOutput::timeout("", "still waiting\n");
    /// assert!(out.timed_out && out.exit_code.is_none() && !out.success());
    /// ```
    pub fn timeout(stdout: &str, stderr: &str) -> CommandOutput {
        CommandOutput {
            timed_out: true,
            stdout: stdout.to_owned(),
            stderr: stderr.to_owned(),
            ..CommandOutput::default()
        }
    }

    /// A command killed by a signal (no exit code), with what it wrote before.
    pub fn killed(stdout: &str, stderr: &str) -> CommandOutput {
        CommandOutput {
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
///
/// ```
/// use doppel_plugin_api::Level;
/// assert_eq!(Level::from_u8(Level::Warn as u8), Level::Warn);
/// assert!(Level::Error < Level::Debug);
/// ```
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

/// The kind of a driver [`Error`](crate::Error). Non-exhaustive: a later 1.x may
/// add kinds, so match it with a `_` arm.
///
/// ```
/// use doppel_plugin_api::{Error, ErrorKind};
/// let retry = |e: &Error| match e.kind {
///     ErrorKind::Cancelled | ErrorKind::Invalid | ErrorKind::Unsupported => false,
///     _ => true,
/// };
/// assert!(retry(&Error::failed("busy")) && !retry(&Error::cancelled()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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

/// Checks that every protocol struct stays `#[non_exhaustive]`: outside this crate
/// (a doctest is, as a vendor's driver is) a struct literal must not compile, so a
/// field added in a later 1.x release breaks no vendor's source. Vendors use the
/// constructors and builders instead (`tests/builders.rs` shows each one).
///
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = HostFeatures { protocol_min: 1, protocol_max: 1, features: vec![] };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = Manifest { group: "sync".into(), name: "x".into(), version: "1".into(), ..Manifest::new("", "", "") };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = OptionSpec { name: "bin".into(), desc: String::new(), actions: vec![] };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = KeywordDepends { keyword: "mode".into(), values: vec![] };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = KeywordSpec { name: "src".into(), ..KeywordSpec::new("", KeywordType::String) };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = ActionSpec { name: "sync_update".into(), ..ActionSpec::standard("") };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = ResourceConfig { rid: "sync#0".into(), ..ResourceConfig::default() };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = Problem { keyword: None, message: "no target".into() };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = ActionRequest { action: "start".into(), ..ActionRequest::default() };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = ActionOutcome { messages: vec![], noop: true };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = StatusMessage { level: MessageLevel::Info, text: "ok".into() };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = StatusReport { state: Status::Up, messages: vec![], last_sync: None };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = CommandRequest { argv: vec!["true".into()], ..CommandRequest::default() };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = CommandOutput { exit_code: Some(0), ..CommandOutput::default() };
/// ```
/// ```compile_fail,E0639
/// use doppel_plugin_api::*;
/// let _ = Error { kind: ErrorKind::Failed, message: "x".into() };
/// ```
#[allow(dead_code)]
mod non_exhaustive_checks {}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(value: &str) -> Result<Vec<String>, crate::Error> {
        ResourceConfig::new("svc", "sync#0", "n1")
            .keyword("sync_list", value)
            .get_shell_words("sync_list")
    }

    #[test]
    fn shell_words_group_quotes_and_unescape() {
        assert_eq!(words("a b 'c d'").unwrap(), ["a", "b", "c d"]);
        assert_eq!(
            words(r#"  "x y"   z\ w  it"'s ok" "#).unwrap(),
            ["x y", "z w", "it's ok"]
        );
        assert_eq!(words("'' \"\"").unwrap(), ["", ""]);
        assert!(words("").unwrap().is_empty());
        assert!(words("   ").unwrap().is_empty());
    }

    #[test]
    fn shell_words_expand_and_run_nothing() {
        // What sh -c would run or expand stays literal text in one word each.
        let marker = std::env::temp_dir().join(format!("doppel-shlex-{}", std::process::id()));
        let attempt = format!(
            "$(touch {m}) `touch {m}` ; touch {m} | && $HOME *",
            m = marker.display()
        );
        let got = words(&attempt).unwrap();
        assert_eq!(got[0], "$(touch");
        assert!(got.contains(&"$HOME".to_owned()));
        assert!(got.contains(&";".to_owned()) && got.contains(&"|".to_owned()));
        assert!(got.contains(&"&&".to_owned()) && got.contains(&"*".to_owned()));
        assert!(got.contains(&"`touch".to_owned()));
        assert!(!marker.exists(), "a word was run by a shell");
        assert_eq!(words("a;b").unwrap(), ["a;b"]);
    }

    #[test]
    fn shell_words_refuse_unbalanced_quotes_naming_rid_and_keyword() {
        for bad in ["'open", "\"open", "trailing\\"] {
            let err = words(bad).unwrap_err();
            assert_eq!(err.kind, crate::ErrorKind::Invalid, "{bad}");
            assert!(
                err.message
                    .starts_with("sync#0: keyword 'sync_list': unbalanced quotes in "),
                "{}",
                err.message
            );
        }
    }

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
