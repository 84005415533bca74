//! Loading a service: reading the file, checking every section and keyword,
//! building the resources, every problem as a `Diagnostic`.

use super::*;

/// Reads, checks and resolves the service `name` from `file`.
pub fn load(name: &str, file: &Path, opts: &LoadOptions<'_>) -> Loaded {
    // A service file says what root runs: refuse one that others can change, or
    // that sits where others can replace it.
    let dir = file.parent().unwrap_or(Path::new("/"));
    let unloadable = |message: String| Loaded {
        service: None,
        diagnostics: vec![Diagnostic {
            location: None,
            section: None,
            keyword: None,
            message,
        }],
    };
    if let Err(e) = crate::trust::check(dir, "services directory")
        .and_then(|()| crate::trust::check(file, "service file"))
    {
        return unloadable(e.to_string());
    }
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return unloadable(format!("cannot read {}: {e}", file.display())),
    };
    let parsed = ini::parse(file, &bytes);
    let mut diags: Vec<Diagnostic> = parsed
        .errors
        .iter()
        .map(|e| Diagnostic {
            location: Some(e.location.clone()),
            section: e.kind.section().map(str::to_owned),
            keyword: e.kind.key().map(str::to_owned),
            message: e.kind.detail(),
        })
        .collect();
    let mut builder = Builder {
        ini: &parsed.ini,
        opts,
        name,
        diags: &mut diags,
    };
    let service = builder.build(file);
    sort_diagnostics(&mut diags);
    Loaded {
        service: Some(service),
        diagnostics: diags,
    }
}

pub(super) fn sort_diagnostics(diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| d.location.as_ref().map(|l| l.line).unwrap_or(0));
}

pub(super) struct Builder<'a, 'b> {
    pub(super) ini: &'a Ini,
    pub(super) opts: &'a LoadOptions<'b>,
    pub(super) name: &'a str,
    pub(super) diags: &'a mut Vec<Diagnostic>,
}

/// Splits `kw@scope`.
pub(super) fn split_scope(key: &str) -> (&str, Option<&str>) {
    match key.split_once('@') {
        Some((k, s)) => (k, Some(s)),
        None => (key, None),
    }
}

/// A resource the driver is to check, and where its problems go.
pub(super) struct PendingValidation {
    type_name: String,
    config: ResourceConfig,
    /// Where each keyword was read from; a problem without one is the section's.
    keyword_locations: BTreeMap<String, Location>,
    location: Location,
    rid: String,
    /// `diags.len()` when the resource was built: its problems go there.
    diag_index: usize,
}

/// Keywords a resource inherits from `[DEFAULT]` when it does not set them.
pub(super) const INHERITED: &[&str] = &["sync_max_delay", "ssh"];

impl<'b> Builder<'_, 'b> {
    pub(super) fn diag(
        &mut self,
        location: Option<&Location>,
        section: &str,
        keyword: Option<&str>,
        message: String,
    ) {
        self.diags.push(Diagnostic {
            location: location.cloned(),
            section: Some(section.to_owned()),
            keyword: keyword.map(str::to_owned),
            message,
        });
    }

    pub(super) fn build(&mut self, file: &Path) -> Service {
        let nodename = self.opts.nodename.to_owned();
        let default = self.ini.section("DEFAULT");
        let raw_default = |k: &str| default.and_then(|s| s.value(k)).map(str::to_owned);
        let nodes = raw_default("nodes")
            .map(|v| convert::to_list(&v))
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| vec![nodename.clone()]);
        let drpnodes = raw_default("drpnodes")
            .map(|v| convert::to_list(&v))
            .unwrap_or_default();

        // Check every section and keyword; classify sections.
        let mut resource_sections = Vec::new();
        for section in self.ini.sections() {
            match section.kind() {
                SectionKind::Default => {
                    self.check_section(section, &keywords::shared_default_section_keywords().iter().collect::<Vec<_>>(), None)
                }
                SectionKind::Env => {}
                SectionKind::Subset { .. } => {
                    self.check_section(section, &keywords::shared_subset_keywords().iter().collect::<Vec<_>>(), None)
                }
                SectionKind::Resource { group, index } => resource_sections.push((section, group, index)),
                SectionKind::Other => self.diag(
                    Some(section.location()),
                    section.name(),
                    None,
                    "unknown section: expected [DEFAULT], [env], [subset#<group>[:<name>]] or [<group>#<index>]".to_owned(),
                ),
            }
        }

        let resolver = Resolver {
            ini: self.ini,
            svcname: self.name,
            nodename: &nodename,
            nodes: &nodes,
            drpnodes: &drpnodes,
        };

        // DEFAULT values.
        let env_values = resolver.env_values();
        let mut default_values = BTreeMap::new();
        if let Some(section) = default {
            for spec in keywords::shared_default_section_keywords() {
                if let Some((v, _)) = self.resolve_keyword(&resolver, section, spec, false) {
                    default_values.insert(spec.name.clone(), v);
                }
            }
        }
        let dv = |k: &str| default_values.get(k).map(|r: &Resolved| r.value.clone());
        let duration = |k: &str, d: u64| {
            dv(k)
                .and_then(|v| convert::to_duration_secs(&v).ok())
                .unwrap_or(d)
        };

        let mut resources = Vec::new();
        let mut depends_locations = Vec::new();
        let mut pending = Vec::new();
        for (section, group, index) in resource_sections {
            let (r, locations, validation) =
                self.build_resource(&resolver, section, &group, &index);
            resources.push(r);
            depends_locations.push(locations);
            pending.extend(validation);
        }
        self.driver_validation(pending);
        self.check_conditions(&resources, &depends_locations);

        let parallel_subsets = parallel_subsets(self.ini);
        let triggers = triggers_of(&default_values);
        Service {
            name: self.name.to_owned(),
            file: file.to_owned(),
            nodename: nodename.clone(),
            nodes: nodes.clone(),
            drpnodes: drpnodes.clone(),
            disabled: dv("disable")
                .and_then(|v| convert::to_bool(&v).ok())
                .unwrap_or(false),
            lock_timeout: Duration::from_secs(duration("lock_timeout", 60)),
            trigger_timeout: Duration::from_secs(duration("trigger_timeout", 300)),
            status_schedule: dv("status_schedule").unwrap_or_else(|| "@10".to_owned()),
            triggers,
            resources,
            parallel_subsets,
            default_values,
            env_values,
            ini: self.ini.clone(),
        }
    }

    /// Reports unknown keywords, bad scoping, bad types and bad candidates of a
    /// section against `specs` (+ `type` for resources).
    pub(super) fn check_section(
        &mut self,
        section: &Section,
        specs: &[&KeywordSpec],
        allow_type: Option<()>,
    ) {
        for e in section.entries() {
            let (key, scope) = split_scope(&e.key);
            let canonical = keywords::canonical_name(key);
            if allow_type.is_some() && key == "type" {
                continue;
            }
            let Some(spec) = specs.iter().find(|s| s.name == canonical) else {
                // OpenSVC 2 keywords doppel does not implement: ignored, or one line
                // saying what doppel does instead (crate::opensvc).
                let legacy = match section.kind() {
                    SectionKind::Default => crate::opensvc::keyword(key, false),
                    SectionKind::Resource { .. } => crate::opensvc::keyword(key, true),
                    _ => None,
                };
                match legacy {
                    Some(crate::opensvc::Legacy::Ignored(_)) => continue,
                    Some(crate::opensvc::Legacy::Instead(how)) => {
                        self.diag(
                            Some(&e.location),
                            section.name(),
                            Some(&e.key),
                            format!(
                                "OpenSVC keyword not supported by doppel: {how} (see {})",
                                crate::opensvc::GUIDE
                            ),
                        );
                        continue;
                    }
                    None => {}
                }
                let hint = closest(key, specs.iter().map(|s| s.name.as_str()))
                    .map(|c| format!(" (did you mean '{c}'?)"))
                    .unwrap_or_default();
                self.diag(
                    Some(&e.location),
                    section.name(),
                    Some(&e.key),
                    format!("unknown keyword{hint}"),
                );
                continue;
            };
            if let Some(scope) = scope {
                if !spec.scopable {
                    self.diag(
                        Some(&e.location),
                        section.name(),
                        Some(&e.key),
                        format!("keyword '{key}' does not support scoping (@{scope})"),
                    );
                }
                if scope.is_empty() {
                    self.diag(
                        Some(&e.location),
                        section.name(),
                        Some(&e.key),
                        "empty scope after '@'".to_owned(),
                    );
                }
            }
            // Types and candidates are checked on the raw value unless it uses
            // references (checked after resolution instead).
            if !has_reference(&e.value) {
                self.check_value(&e.location, section.name(), &e.key, spec, &e.value);
            }
        }
    }

    pub(super) fn check_value(
        &mut self,
        location: &Location,
        section: &str,
        key: &str,
        spec: &KeywordSpec,
        value: &str,
    ) {
        if let Err(err) = convert::check(spec.kind, value) {
            self.diag(Some(location), section, Some(key), err.to_string());
            return;
        }
        // The daemon parses schedules when it plans; a value it would refuse (or
        // one that can never match) must not validate.
        if keywords::holds_schedule(&spec.name) {
            if let Err(err) = crate::schedule::Schedule::parse(value) {
                self.diag(Some(location), section, Some(key), err.to_string());
                return;
            }
        }
        // The destination goes to ssh after `--`: refuse what ssh would read as an
        // option or split into several words.
        if spec.name == "ssh" {
            if let Err(why) = check_ssh_destination(value) {
                self.diag(Some(location), section, Some(key), why);
                return;
            }
        }
        // always_on also accepts node names: its candidates are suggestions.
        if let (Some(c), true) = (
            &spec.candidates,
            spec.strict_candidates && spec.name != "always_on",
        ) {
            let ok = if spec.kind == KeywordType::Boolean {
                true
            } else {
                c.iter().any(|x| x == value)
            };
            if !ok {
                self.diag(
                    Some(location),
                    section,
                    Some(key),
                    format!("invalid value {value:?}: expected one of {}", c.join(", ")),
                );
            }
        }
    }

    /// Resolves one keyword of `section` (scopes, DEFAULT inheritance, default,
    /// references), with the line it was read from (`None` for a default).
    /// Reports unresolved references.
    pub(super) fn resolve_keyword(
        &mut self,
        r: &Resolver<'_>,
        section: &Section,
        spec: &KeywordSpec,
        inherit: bool,
    ) -> Option<(Resolved, Option<Location>)> {
        let found = r
            .lookup(section, &spec.name, spec.scopable)
            .map(|e| (e, false))
            .or_else(|| {
                if inherit && INHERITED.contains(&spec.name.as_str()) {
                    let d = r.ini.section("DEFAULT")?;
                    r.lookup(d, &spec.name, spec.scopable).map(|e| (e, true))
                } else {
                    None
                }
            });
        let (raw, origin, location) = match found {
            Some((e, inherited)) => {
                let loc = e.location.to_string();
                let origin = if inherited {
                    Origin::Inherited {
                        location: loc,
                        key: e.key.clone(),
                    }
                } else {
                    Origin::File {
                        location: loc,
                        key: e.key.clone(),
                    }
                };
                (e.value.clone(), origin, Some(e.location.clone()))
            }
            None => (spec.default.clone()?, Origin::Default, None),
        };
        let key_written = match &origin {
            Origin::File { key, .. } | Origin::Inherited { key, .. } => key.clone(),
            Origin::Default | Origin::Environment { .. } => spec.name.clone(),
        };
        let value = match r.expand(&raw, section.name(), &mut Walk::default()) {
            Ok(v) => v,
            Err(msg) => {
                self.diag(location.as_ref(), section.name(), Some(&key_written), msg);
                raw.clone()
            }
        };
        if has_reference(&raw) {
            if let Some(loc) = &location {
                self.check_value(loc, section.name(), &key_written, spec, &value);
            }
        }
        Some((Resolved { value, origin }, location))
    }

    /// Asks the drivers to check every resource in `pending` at once (a driver
    /// process answers all of a service's resources of its driver in one round
    /// trip), then files each resource's problems where they would have been had
    /// it been checked right after it was built: the order of diagnostics on one
    /// line stays the same.
    fn driver_validation(&mut self, pending: Vec<PendingValidation>) {
        if pending.is_empty() {
            return;
        }
        let items: Vec<(&str, &ResourceConfig)> = pending
            .iter()
            .map(|p| (p.type_name.as_str(), &p.config))
            .collect();
        let mut answers = self.opts.catalog.validate_all(&items);
        answers.resize_with(pending.len(), Vec::new);
        // From the last: inserting there leaves the earlier positions valid.
        for (p, problems) in pending.iter().zip(answers).rev() {
            let found: Vec<Diagnostic> = problems
                .into_iter()
                .map(|problem| {
                    let loc = problem
                        .keyword
                        .as_deref()
                        .and_then(|k| p.keyword_locations.get(k))
                        .unwrap_or(&p.location);
                    Diagnostic {
                        location: Some(loc.clone()),
                        section: Some(p.rid.clone()),
                        keyword: problem.keyword,
                        message: problem.message,
                    }
                })
                .collect();
            let at = p.diag_index.min(self.diags.len());
            self.diags.splice(at..at, found);
        }
    }

    /// The `type` of resource `section` as written, its driver type (the group
    /// prefixed when it has none) and its manifest; a missing or unknown type is a
    /// diagnostic naming the installed drivers or the closest type.
    fn resource_driver(
        &mut self,
        section: &Section,
        group: &str,
    ) -> (String, String, Option<&'b Manifest>) {
        let rid = section.name();
        let location = section.location().clone();
        let type_entry = section.get("type");
        let basename = type_entry
            .map(|e| e.value.trim().to_owned())
            .unwrap_or_default();
        let type_name = if basename.contains('.') {
            basename.clone()
        } else {
            format!("{group}.{basename}")
        };
        let manifest = if basename.is_empty() {
            let installed: Vec<String> = self
                .opts
                .catalog
                .types()
                .into_iter()
                .filter(|t| t.starts_with(&format!("{group}.")))
                .collect();
            self.diag(
                Some(&location),
                rid,
                Some("type"),
                format!(
                    "missing keyword 'type' (installed {group} drivers: {})",
                    if installed.is_empty() {
                        "none".to_owned()
                    } else {
                        installed.join(", ")
                    }
                ),
            );
            None
        } else {
            let m = self.opts.catalog.manifest(&type_name);
            if m.is_none() {
                let types = self.opts.catalog.types();
                let hint = closest(&type_name, types.iter().map(String::as_str))
                    .map(|c| format!(" (did you mean {c}?)"))
                    .unwrap_or_else(|| " (see `doppel drivers list`)".to_owned());
                let loc = type_entry
                    .map(|e| e.location.clone())
                    .unwrap_or(location.clone());
                let message = match crate::opensvc::driver_type(group, &basename) {
                    Some(how) => format!(
                        "unknown driver type {type_name}: {how} (see {})",
                        crate::opensvc::GUIDE
                    ),
                    None => format!("unknown driver type {type_name}{hint}"),
                };
                self.diag(Some(&loc), rid, Some("type"), message);
            }
            m
        };
        (basename, type_name, manifest)
    }

    /// Every keyword of resource `section` resolved (scopes, `[DEFAULT]`,
    /// defaults, references), with the lines they were read from; a required
    /// keyword left unset is a diagnostic when the driver is known.
    fn resolve_resource_keywords(
        &mut self,
        r: &Resolver<'_>,
        section: &Section,
        specs: &[&KeywordSpec],
        driver_known: bool,
    ) -> (BTreeMap<String, Resolved>, BTreeMap<String, Location>) {
        let mut values = BTreeMap::new();
        let mut locations = BTreeMap::new();
        for spec in specs {
            if let Some((v, loc)) = self.resolve_keyword(r, section, spec, true) {
                values.insert(spec.name.clone(), v);
                if let Some(loc) = loc {
                    locations.insert(spec.name.clone(), loc);
                }
            } else if spec.required && !spec.provisioning && driver_known {
                self.diag(
                    Some(section.location()),
                    section.name(),
                    Some(&spec.name),
                    "missing required keyword".to_owned(),
                );
            }
        }
        (values, locations)
    }

    /// The `<action>_depends` conditions of resource `rid`, by action, and the
    /// lines they were read from; a condition that does not parse is a diagnostic.
    fn resource_conditions(
        &mut self,
        rid: &str,
        group: &str,
        values: &BTreeMap<String, Resolved>,
        locations: &BTreeMap<String, Location>,
    ) -> (BTreeMap<String, Vec<Condition>>, BTreeMap<String, Location>) {
        let mut conditions = BTreeMap::new();
        let mut depends_locations = BTreeMap::new();
        for action in keywords::depends_actions(group) {
            let key = format!("{action}_depends");
            let Some(v) = values.get(&key) else { continue };
            let loc = locations.get(&key);
            match parse_conditions(&v.value) {
                Ok(list) if !list.is_empty() => {
                    conditions.insert(action.to_owned(), list);
                    if let Some(loc) = loc {
                        depends_locations.insert(action.to_owned(), loc.clone());
                    }
                }
                Ok(_) => {}
                Err(msg) => self.diag(loc, rid, Some(&key), msg),
            }
        }
        (conditions, depends_locations)
    }

    /// Builds the resource of `section`; also returns the lines its
    /// `<action>_depends` keywords were read from, by action, and what the
    /// driver is to check (see [`Builder::driver_validation`]).
    pub(super) fn build_resource(
        &mut self,
        r: &Resolver<'_>,
        section: &Section,
        group: &str,
        index: &str,
    ) -> (
        ResourceDef,
        BTreeMap<String, Location>,
        Option<PendingValidation>,
    ) {
        let rid = section.name().to_owned();
        let location = section.location().clone();
        let (basename, type_name, manifest) = self.resource_driver(section, group);
        let specs: Vec<&KeywordSpec> = match manifest {
            Some(m) => keywords::resource_keyword_refs(m),
            None => keywords::shared_generic_resource_keywords(group)
                .iter()
                .collect(),
        };
        if manifest.is_some() {
            self.check_section(section, &specs, Some(()));
        }

        let (values, locations) =
            self.resolve_resource_keywords(r, section, &specs, manifest.is_some());
        let get = |k: &str| values.get(k).map(|v: &Resolved| v.value.as_str());
        let boolean = |k: &str| get(k).and_then(|v| convert::to_bool(v).ok());
        let tags: BTreeSet<String> = get("tags")
            .map(convert::to_list)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let noaction = tags.contains("noaction");
        let optional = boolean("optional")
            .filter(|_| {
                values
                    .get("optional")
                    .is_some_and(|v| v.origin != Origin::Default)
            })
            // False for every group, as the template says (and OpenSVC om3); a
            // `noaction` resource never acts, so it cannot fail.
            .unwrap_or(noaction);
        let standby = standby_here(r, get("always_on"));

        let (conditions, depends_locations) =
            self.resource_conditions(&rid, group, &values, &locations);
        let triggers = triggers_of(&values);
        let driver_keywords = driver_keywords_of(manifest, &values);
        let def = ResourceDef {
            rid: rid.clone(),
            group: group.to_owned(),
            index: index.to_owned(),
            type_name: if basename.is_empty() {
                String::new()
            } else {
                type_name.clone()
            },
            driver: basename.rsplit('.').next().unwrap_or(&basename).to_owned(),
            location: Some(location.clone()),
            tags,
            subset: get("subset").map(str::to_owned).filter(|s| !s.is_empty()),
            disabled: boolean("disable").unwrap_or(false),
            optional,
            monitor: boolean("monitor").unwrap_or(false),
            restart: get("restart")
                .and_then(|v| convert::to_integer(v).ok())
                .unwrap_or(0)
                .max(0) as u32,
            standby,
            conditions,
            triggers,
            schedule: get("schedule")
                .map(str::to_owned)
                .filter(|s| !s.trim().is_empty()),
            // Sync resources have it (a generic keyword); a driver of another group
            // that declares it (disk.alt_disk: the clone's age) gets the same rule,
            // applied once by doppel rather than by each driver.
            sync_max_delay: get("sync_max_delay")
                .and_then(|v| convert::to_duration_minute_secs(v).ok()),
            driver_keywords,
            values,
        };
        let validation = match (manifest, self.opts.driver_validation) {
            (Some(m), true) => Some(PendingValidation {
                type_name: m.type_name(),
                config: resource_config(&def, self.name, r.nodename, self.opts),
                keyword_locations: locations,
                location,
                rid,
                diag_index: self.diags.len(),
            }),
            _ => None,
        };
        (def, depends_locations, validation)
    }

    /// Unknown rids, self-dependencies and cycles in `<action>_depends`.
    /// `locations[i]` holds the lines of `resources[i]`'s conditions, by action.
    pub(super) fn check_conditions(
        &mut self,
        resources: &[ResourceDef],
        locations: &[BTreeMap<String, Location>],
    ) {
        let rids: BTreeSet<&str> = resources.iter().map(|r| r.rid.as_str()).collect();
        let mut found = Vec::new();
        let mut actions = BTreeSet::new();
        for (r, locations) in resources.iter().zip(locations) {
            for (action, conds) in &r.conditions {
                actions.insert(action.clone());
                for c in conds {
                    let loc = locations.get(action).cloned();
                    if c.rid == r.rid {
                        found.push((
                            loc,
                            r.rid.clone(),
                            action.clone(),
                            "a resource cannot depend on itself".to_owned(),
                        ));
                    } else if !rids.contains(c.rid.as_str()) {
                        let hint = closest(&c.rid, rids.iter().copied().filter(|x| *x != r.rid))
                            .map(|x| format!(" (did you mean {x}?)"))
                            .unwrap_or_default();
                        found.push((
                            loc,
                            r.rid.clone(),
                            action.clone(),
                            format!("unknown resource {}{hint}", c.rid),
                        ));
                    }
                }
            }
        }
        for action in actions {
            let edges: HashMap<&str, Vec<&str>> = resources
                .iter()
                .map(|r| {
                    let deps = r
                        .conditions
                        .get(&action)
                        .map(|c| {
                            c.iter()
                                .map(|c| c.rid.as_str())
                                .filter(|d| *d != r.rid)
                                .collect()
                        })
                        .unwrap_or_default();
                    (r.rid.as_str(), deps)
                })
                .collect();
            if let Some(cycle) = find_cycle(&edges) {
                let first = resources
                    .iter()
                    .position(|r| r.rid == cycle[0])
                    .expect("rid in cycle exists");
                found.push((
                    locations[first].get(&action).cloned(),
                    cycle[0].clone(),
                    action.clone(),
                    format!("dependency cycle: {}", cycle.join(" -> ")),
                ));
            }
        }
        for (loc, rid, action, msg) in found {
            self.diag(loc.as_ref(), &rid, Some(&format!("{action}_depends")), msg);
        }
    }
}

/// An `ssh` destination: `user@host`, `host` or `ssh://user@host:port`, one word.
fn check_ssh_destination(value: &str) -> Result<(), String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(()); // unset: the resource runs locally
    }
    if v.starts_with('-') || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "invalid ssh destination {value:?}: expected user@host, host or ssh://user@host:port"
        ));
    }
    let host = v.strip_prefix("ssh://").unwrap_or(v);
    let host = host.rsplit('@').next().unwrap_or(host);
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("invalid ssh destination {value:?}: no host"));
    }
    Ok(())
}

/// A resource's trigger keywords (`pre_<action>`, `post_<action>`,
/// `blocking_...`) and their commands.
fn triggers_of(values: &BTreeMap<String, Resolved>) -> BTreeMap<String, String> {
    values
        .iter()
        .filter(|(k, _)| {
            k.starts_with("pre_") || k.starts_with("post_") || k.starts_with("blocking_")
        })
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect()
}

/// The values of the keywords the driver declares (what it is given), none
/// for an unknown driver.
fn driver_keywords_of(
    manifest: Option<&Manifest>,
    values: &BTreeMap<String, Resolved>,
) -> BTreeMap<String, String> {
    manifest
        .map(|m| {
            m.keywords
                .iter()
                .filter_map(|k| {
                    values
                        .get(&k.name)
                        .map(|v| (k.name.clone(), v.value.clone()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `always_on` names this node (`nodes`, `drpnodes`, or the node itself): the
/// resource is standby here.
fn standby_here(r: &Resolver<'_>, always_on: Option<&str>) -> bool {
    always_on
        .map(convert::to_list)
        .unwrap_or_default()
        .iter()
        .any(|a| match a.as_str() {
            "nodes" => r.nodes.iter().any(|n| n == r.nodename),
            "drpnodes" => r.drpnodes.iter().any(|n| n == r.nodename),
            node => node == r.nodename,
        })
}

/// The subsets whose resources act in parallel (`[subset#<group>[:<name>]]`
/// with `parallel = true`), as `<group>` or `<group>:<name>`.
fn parallel_subsets(ini: &Ini) -> BTreeSet<String> {
    let mut subsets = BTreeSet::new();
    for section in ini.sections() {
        if let SectionKind::Subset { group, name } = section.kind() {
            let parallel = section
                .value("parallel")
                .map(|v| convert::to_bool(v).unwrap_or(false))
                .unwrap_or(false);
            if parallel {
                subsets.insert(match name {
                    Some(n) => format!("{group}:{n}"),
                    None => group,
                });
            }
        }
    }
    subsets
}

#[cfg(test)]
mod ssh_destination_tests {
    use super::check_ssh_destination;

    #[test]
    fn destinations_ssh_accepts_pass_and_option_lookalikes_do_not() {
        for ok in [
            "hpux01",
            "root@hpux01",
            "ssh://root@hpux01:2222",
            "root@10.0.0.7",
            "",
        ] {
            assert!(check_ssh_destination(ok).is_ok(), "{ok}");
        }
        for bad in [
            "-oProxyCommand=sh",
            "root@hpux01 ls",
            "root@",
            "ssh://root@:22",
            "a\nb",
        ] {
            assert!(check_ssh_destination(bad).is_err(), "{bad:?}");
        }
    }
}
