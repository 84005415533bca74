//! `syncreplica -export`, `syncreplica -import` and `lspacket`: the packet model.
//!
//! Export sends, for every originating replica, the oplog entries above the
//! lowest epoch estimate the sender holds for the targets, and raises those
//! estimates at once (the sender assumes delivery). A packet records the range
//! of entries it carries per originating replica (`after < id <= through`), so
//! a receiver can apply it only once it holds every entry up to `after`: an
//! earlier packet that has not arrived holds it. Entries the receiver already
//! has are skipped, so a re-sent or overlapping packet is harmless.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use doppel_sim::common::{SimError, SimResult, clock, err, out, write_atomic};

use crate::dates::{cc_datetime, packet_stamp};
use crate::packet::{self, Header, PacketFile};
use crate::shipping;
use crate::world::{
    ExportRecord, Family, HistoryRecord, Mts, ReplicaInfo, Store, make_oid, row_text,
};

#[derive(Clone, Debug, PartialEq)]
pub enum Transport {
    Ship,
    Fship,
    Out(PathBuf),
}

#[derive(Clone, Debug)]
pub struct ExportOptions {
    pub maxsize: Option<u64>,
    pub limit: Option<u64>,
    pub comment: String,
    pub transport: Transport,
    pub sclass: String,
}

/// Exports from `local` to `targets`. Returns the exit code.
pub fn export(
    mts: &mut Mts,
    tool: &str,
    fam: &Family,
    local: &ReplicaInfo,
    targets: &[ReplicaInfo],
    opts: &ExportOptions,
) -> SimResult<i32> {
    let now = clock::now();
    let mut store = mts.load_store(&fam.tag, &local.name)?;
    let columns = fam.names();
    let target_names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let base: BTreeMap<String, u64> = columns
        .iter()
        .map(|c| {
            (
                c.clone(),
                target_names
                    .iter()
                    .map(|t| store.get(t, c))
                    .min()
                    .unwrap_or(0),
            )
        })
        .collect();
    let pending: Vec<_> = store
        .oplog
        .iter()
        .filter(|e| e.id > base.get(&e.origin).copied().unwrap_or(0))
        .cloned()
        .collect();

    // Where the packet goes.
    let stamp = packet_stamp(now);
    let pid = std::process::id();
    let generated_name = |n: usize| format!("sync_{}_{}_{}_{}", local.name, stamp, pid, n);
    let out_dir: PathBuf = match &opts.transport {
        Transport::Out(p) => {
            if p.is_dir() {
                p.clone()
            } else {
                p.parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."))
            }
        }
        _ => mts.bay(&local.host, &opts.sclass)?.join("outgoing"),
    };
    if !out_dir.is_dir() {
        return Err(SimError::new(
            1,
            format!(
                "Error: Unable to access \"{}\": No such file or directory.",
                out_dir.display()
            ),
        ));
    }

    // -limit caps the logical packet at limit × maxsize.
    let cap = match (opts.maxsize, opts.limit) {
        (Some(m), Some(l)) => Some(m.saturating_mul(l)),
        _ => None,
    };
    let mut included = Vec::new();
    let mut size = 2u64;
    for e in &pending {
        let n = serde_json::to_vec(e)
            .map(|v| v.len() as u64 + 1)
            .unwrap_or(0);
        if cap.is_some_and(|c| size + n > c) && !included.is_empty() {
            break;
        }
        size += n;
        included.push(e.clone());
    }
    let body = serde_json::to_vec(&included).unwrap_or_default();
    let chunks = packet::split(&body, opts.maxsize);
    let n = chunks.len();
    let paths: Vec<PathBuf> = (1..=n)
        .map(|i| match &opts.transport {
            Transport::Out(p) if !p.is_dir() => {
                if n == 1 {
                    p.clone()
                } else {
                    PathBuf::from(format!("{}_{i}", p.display()))
                }
            }
            _ => out_dir.join(generated_name(i)),
        })
        .collect();

    if included.is_empty() {
        out(&format!(
            "Generating synchronization packet {}\n",
            paths[0].display()
        ));
        out(&format!("Removing empty packet {}\n", paths[0].display()));
        return Ok(0);
    }
    for p in &paths {
        if p.exists() {
            return Err(SimError::new(
                1,
                format!("Error: Packet file \"{}\" already exists.", p.display()),
            ));
        }
    }

    let mut ranges: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for e in &included {
        let after = base.get(&e.origin).copied().unwrap_or(0);
        let r = ranges.entry(e.origin.clone()).or_insert((after, after));
        r.1 = r.1.max(e.id);
    }
    let seq = store.generated + 1;
    let packet_id = make_oid(&format!(
        "{}|{}|{}|{}|{}",
        fam.oid, local.name, seq, now, pid
    ));
    let sender_row = store.row(&local.name, &columns);
    let mut header = Header {
        kind: "Update".into(),
        family_oid: fam.oid.clone(),
        vob: fam.tag.clone(),
        packet_id,
        origin: local.name.clone(),
        origin_oid: local.oid.clone(),
        incarnation: store.incarnation,
        comment: opts.comment.clone(),
        targets: target_names.clone(),
        fragment: 1,
        fragments: n as u32,
        logical_seq: seq,
        ranges: ranges.clone(),
        sender_row,
        entries: included.len() as u64,
        created: now,
        packet_length: body.len() as u64,
        packet_checksum: packet::checksum(&body),
        ..Header::default()
    };
    for (i, (chunk, path)) in chunks.iter().zip(&paths).enumerate() {
        header.fragment = i as u32 + 1;
        header.body_length = chunk.len() as u64;
        header.body_checksum = packet::checksum(chunk);
        write_atomic(path, &header.encode(chunk)).map_err(|e| {
            SimError::new(
                1,
                format!("Error: cannot write packet {}: {e}", path.display()),
            )
        })?;
    }

    // The sender assumes delivery: raise the estimates now, keep the old rows
    // for recoverpacket.
    let mut record = ExportRecord {
        time: now,
        packet: paths[0]
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        targets: target_names.clone(),
        before: BTreeMap::new(),
    };
    for t in &target_names {
        record.before.insert(t.clone(), store.row(t, &columns));
        for (col, (_, through)) in &ranges {
            if store.get(t, col) < *through {
                store.set(t, col, *through);
            }
        }
    }
    store.exports.push(record);
    store.generated = seq;
    store.history.push(HistoryRecord {
        time: now,
        event: format!(
            "export sync from replica \"{}\" to replica(s) {}",
            local.name,
            target_names
                .iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        row: row_text(&store.row(&local.name, &columns)),
    });
    mts.save_store(&fam.tag, &local.name, &store)?;

    let mut orders = Vec::new();
    let mut dest_hosts: Vec<String> = targets.iter().map(|t| t.host.clone()).collect();
    dest_hosts.sort();
    dest_hosts.dedup();
    for p in &paths {
        out(&format!(
            "Generating synchronization packet {}\n",
            p.display()
        ));
        if !matches!(opts.transport, Transport::Out(_)) {
            let order = shipping::write_order(p, &opts.sclass, &dest_hosts, now)?;
            out(&format!(" - shipping order file is {}\n", order.display()));
            orders.push(order);
        }
    }
    if opts.transport == Transport::Fship {
        out("Attempting to forward/deliver generated packets...\n");
        for order in &orders {
            match shipping::deliver(mts, order) {
                Ok(p) => out(&format!(" -- Forwarded/delivered packet {}\n", p.display())),
                Err(e) => {
                    err(&format!("{tool}: {}\n", e.message));
                    return Ok(1);
                }
            }
        }
    }
    Ok(0)
}

/// Where import looks for packets.
#[derive(Clone, Debug)]
pub enum Source {
    /// `-receive [-sclass c]`: the incoming directories of the host's bays.
    Receive(Option<String>),
    /// Packet files and directories.
    Paths(Vec<PathBuf>),
}

fn list_dir(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.retain(|p| {
        let n = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        !n.starts_with('.') && !n.starts_with("sh_o_")
    });
    v
}

/// Reads candidate files; returns the packets in arrival order and the files
/// that are not packets (with the reason).
fn read_all(files: &[PathBuf]) -> (Vec<PacketFile>, Vec<(PathBuf, packet::PacketError)>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for f in files {
        match packet::read(f) {
            Ok(p) => good.push(p),
            Err(e) => bad.push((f.clone(), e)),
        }
    }
    good.sort_by(|a, b| {
        a.mtime
            .partial_cmp(&b.mtime)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.path.cmp(&b.path))
    });
    good.dedup_by(|a, b| a.path == b.path);
    (good, bad)
}

/// Groups physical packets by logical packet, in order of first arrival.
fn group(packets: &[PacketFile]) -> Vec<Vec<&PacketFile>> {
    let mut groups: Vec<Vec<&PacketFile>> = Vec::new();
    for p in packets {
        match groups
            .iter_mut()
            .find(|g| g[0].header.packet_id == p.header.packet_id)
        {
            Some(g) => {
                if !g.iter().any(|q| q.header.fragment == p.header.fragment) {
                    g.push(p);
                }
            }
            None => groups.push(vec![p]),
        }
    }
    for g in &mut groups {
        g.sort_by_key(|p| p.header.fragment);
    }
    groups
}

/// What a receiver lacks to apply a packet: (originating replica, first missing
/// ID, last ID the packet assumes, ID the receiver has).
pub fn missing(store: &Store, me: &str, header: &Header) -> Vec<(String, u64, u64, u64)> {
    header
        .ranges
        .iter()
        .filter_map(|(col, (after, _))| {
            let have = store.get(me, col);
            (have < *after).then(|| (col.clone(), have + 1, *after, have))
        })
        .collect()
}

/// The local replicas a packet is intended for.
fn local_targets<'a>(
    mts: &'a Mts,
    host: &str,
    header: &Header,
) -> Option<(&'a Family, Vec<&'a ReplicaInfo>)> {
    let fam = mts
        .world
        .families
        .iter()
        .find(|f| f.oid == header.family_oid)?;
    let reps = fam
        .replicas
        .iter()
        .filter(|r| r.host == host && header.targets.contains(&r.name))
        .collect();
    Some((fam, reps))
}

/// `syncreplica -import [-diagnose]`. Returns the exit code (1 when a packet
/// could not be imported).
pub fn import(
    mts: &mut Mts,
    tool: &str,
    host: &str,
    source: &Source,
    invob: Option<&str>,
    diagnose: bool,
) -> SimResult<i32> {
    let files: Vec<PathBuf> = match source {
        Source::Receive(class) => {
            let h = mts
                .host(host)
                .cloned()
                .ok_or_else(|| SimError::new(1, format!("Error: unknown host \"{host}\"")))?;
            if let Some(c) = class
                && !h.classes.contains_key(c)
            {
                return Err(SimError::new(
                    1,
                    format!("Error: No storage bay for storage class \"{c}\" on host \"{host}\"."),
                ));
            }
            h.classes
                .iter()
                .filter(|(c, _)| class.as_ref().is_none_or(|w| w == *c))
                .flat_map(|(_, bay)| list_dir(&bay.join("incoming")))
                .collect()
        }
        Source::Paths(paths) => {
            let mut v = Vec::new();
            for p in paths {
                if p.is_dir() {
                    v.extend(list_dir(p));
                } else if p.is_file() {
                    v.push(p.clone());
                } else {
                    return Err(SimError::new(
                        1,
                        format!(
                            "Error: Unable to access \"{}\": No such file or directory.",
                            p.display()
                        ),
                    ));
                }
            }
            v
        }
    };
    // Fragments named one by one may have their siblings next to them.
    let (mut packets, bad) = read_all(&files);
    if let Source::Paths(_) = source {
        let ids: Vec<String> = packets.iter().map(|p| p.header.packet_id.clone()).collect();
        let dirs: Vec<PathBuf> = packets
            .iter()
            .filter_map(|p| p.path.parent().map(Path::to_path_buf))
            .collect();
        let mut extra = Vec::new();
        for d in dirs {
            for f in list_dir(&d) {
                if !packets.iter().any(|p| p.path == f) {
                    extra.push(f);
                }
            }
        }
        let (more, _) = read_all(&extra);
        packets.extend(
            more.into_iter()
                .filter(|p| ids.contains(&p.header.packet_id)),
        );
        packets.sort_by(|a, b| {
            a.mtime
                .partial_cmp(&b.mtime)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.path.cmp(&b.path))
        });
        packets.dedup_by(|a, b| a.path == b.path);
    }
    let mut failures = 0;
    for (path, e) in &bad {
        err(&format!(
            "{tool}: Error: Sync. packet {} cannot be imported: {e}. Nothing was imported from it.\n",
            path.display()
        ));
        failures += 1;
    }
    let now = clock::now();
    for g in group(&packets) {
        let first = g[0];
        let Some((fam, reps)) = local_targets(mts, host, &first.header) else {
            err(&format!(
                "{tool}: Error: Sync. packet {} is for VOB family {}, which has no replica here.\n",
                first.path.display(),
                first.header.family_oid
            ));
            failures += 1;
            continue;
        };
        let fam = fam.clone();
        let reps: Vec<ReplicaInfo> = reps.into_iter().cloned().collect();
        if invob.is_some_and(|v| crate::world::vob_tag(v) != fam.tag) {
            continue;
        }
        if reps.is_empty() {
            err(&format!(
                "{tool}: Warning: Sync. packet {} is not intended for any replica on host \"{host}\" (targets: {}); skipped.\n",
                first.path.display(),
                first.header.targets.join(", ")
            ));
            continue;
        }
        let n = first.header.fragments;
        let have: Vec<u32> = g.iter().map(|p| p.header.fragment).collect();
        let absent: Vec<String> = (1..=n)
            .filter(|i| !have.contains(i))
            .map(|i| i.to_string())
            .collect();
        if diagnose {
            out(&format!("Packet {}:\n", first.path.display()));
        }
        if !absent.is_empty() {
            let msg = format!(
                "Sync. packet {} is fragment {} of {} of a logical packet; fragment(s) {} of {n} have not arrived. Nothing is imported from it until they have.",
                first.path.display(),
                first.header.fragment,
                n,
                absent.join(", ")
            );
            if diagnose {
                out(&format!(
                    "  incomplete: fragment(s) {} of {n} missing\n",
                    absent.join(", ")
                ));
            } else {
                err(&format!("{tool}: Error: {msg}\n"));
                failures += 1;
            }
            continue;
        }
        let entries = match packet::assemble(&g) {
            Ok(e) => e,
            Err((path, e)) => {
                if diagnose {
                    out(&format!("  unusable: {}: {e}\n", path.display()));
                } else {
                    err(&format!(
                        "{tool}: Error: Sync. packet {} cannot be imported: {e}. Nothing was imported from it.\n",
                        path.display()
                    ));
                    failures += 1;
                }
                continue;
            }
        };
        let columns = fam.names();
        let mut all_done = true;
        for rep in &reps {
            let mut store = mts.load_store(&fam.tag, &rep.name)?;
            let lacking = missing(&store, &rep.name, &first.header);
            if diagnose {
                if lacking.is_empty() {
                    out(&format!("  replica \"{}\": can be applied now\n", rep.name));
                } else {
                    for (col, from, to, has) in &lacking {
                        out(&format!(
                            "  replica \"{}\": missing oplog entries from replica \"{col}\": IDs {from} to {to} (replica has {has}); an earlier packet has not been imported\n",
                            rep.name
                        ));
                    }
                }
                continue;
            }
            if mts.is_locked(&fam.tag, &rep.name) {
                err(&format!(
                    "{tool}: Error: Unable to lock VOB \"{}\" (replica \"{}\"): VOB is locked.\n",
                    fam.tag, rep.name
                ));
                failures += 1;
                all_done = false;
                continue;
            }
            if !lacking.is_empty() {
                let what: Vec<String> = lacking
                    .iter()
                    .map(|(col, from, to, has)| {
                        format!("replica \"{col}\" oplog IDs {from} to {to} (has {has})")
                    })
                    .collect();
                err(&format!(
                    "{tool}: Error: Cannot apply sync. packet {} to replica \"{}\": it depends on operations not yet received: {}. Import the earlier packet(s) first.\n",
                    first.path.display(),
                    rep.name,
                    what.join(", ")
                ));
                failures += 1;
                all_done = false;
                continue;
            }
            let row_before = row_text(&store.row(&rep.name, &columns));
            let mut applied = 0;
            let mut gap = None;
            for e in &entries {
                let has = store.get(&rep.name, &e.origin);
                if e.id <= has {
                    continue;
                }
                if e.id != has + 1 {
                    gap = Some(format!(
                        "oplog ID {} from replica \"{}\" follows {has}",
                        e.id, e.origin
                    ));
                    break;
                }
                store.apply(&rep.name, e.clone());
                applied += 1;
            }
            if let Some(g) = gap {
                err(&format!(
                    "{tool}: Error: Sync. packet {} is inconsistent ({g}); nothing was imported from it.\n",
                    first.path.display()
                ));
                failures += 1;
                all_done = false;
                continue;
            }
            for (col, v) in &first.header.sender_row {
                if store.get(&first.header.origin, col) < *v {
                    store.set(&first.header.origin, col, *v);
                }
            }
            store.history.push(HistoryRecord {
                time: now,
                event: format!(
                    "import sync from replica \"{}\" to replica \"{}\" ({applied} operation(s))",
                    first.header.origin, rep.name
                ),
                row: format!("Row at import was: {row_before}"),
            });
            mts.save_store(&fam.tag, &rep.name, &store)?;
            for p in &g {
                out(&format!(
                    "Applied sync. packet {} to VOB {}\n",
                    p.path.display(),
                    Mts::storage_name(rep, &fam)
                ));
            }
            if applied == 0 {
                err(&format!(
                    "{tool}: Warning: every operation in sync. packet {} had already been applied to replica \"{}\".\n",
                    first.path.display(),
                    rep.name
                ));
            }
        }
        if all_done && !diagnose {
            for p in &g {
                let _ = std::fs::remove_file(&p.path);
            }
        }
    }
    if diagnose {
        return Ok(if bad.is_empty() { 0 } else { 1 });
    }
    Ok(if failures > 0 { 1 } else { 0 })
}

/// `lspacket [-long | -short] [-dump] [pname ...]`. Returns the exit code.
pub fn lspacket(
    mts: &Mts,
    tool: &str,
    host: &str,
    pnames: &[PathBuf],
    long: bool,
    short: bool,
    dump: bool,
) -> SimResult<i32> {
    let files: Vec<PathBuf> = if pnames.is_empty() {
        let h = mts
            .host(host)
            .ok_or_else(|| SimError::new(1, format!("Error: unknown host \"{host}\"")))?;
        h.classes
            .values()
            .flat_map(|bay| [bay.join("incoming"), bay.join("outgoing")])
            .flat_map(|d| list_dir(&d))
            .collect()
    } else {
        let mut v = Vec::new();
        for p in pnames {
            if p.is_dir() {
                v.extend(list_dir(p));
            } else if p.is_file() {
                v.push(p.clone());
            } else {
                err(&format!(
                    "{tool}: Error: Unable to access \"{}\": No such file or directory.\n",
                    p.display()
                ));
                return Ok(1);
            }
        }
        v
    };
    let (packets, bad) = read_all(&files);
    let mut stores: BTreeMap<(String, String), Store> = BTreeMap::new();
    let mut first = true;
    for p in &packets {
        if short {
            out(&format!("{}\n", p.path.display()));
            continue;
        }
        if !first {
            out("\n");
        }
        first = false;
        let h = &p.header;
        out(&format!("Packet is: {}\n", p.path.display()));
        out(&format!("Packet type: {}\n", h.kind));
        out(&format!("VOB family identifier is: {}\n", h.family_oid));
        if h.comment.is_empty() {
            out("Comment supplied at packet creation is:\n");
        } else {
            out(&format!(
                "Comment supplied at packet creation is: {}\n",
                h.comment
            ));
        }
        out("Packet intended for the following targets:\n");
        let fam = mts.world.families.iter().find(|f| f.oid == h.family_oid);
        for t in &h.targets {
            let local = fam.and_then(|f| f.replica(t).filter(|r| r.host == host).map(|r| (f, r)));
            match local {
                Some((f, r)) => {
                    let key = (f.tag.clone(), r.name.clone());
                    if !stores.contains_key(&key) {
                        stores.insert(key.clone(), mts.load_store(&f.tag, &r.name)?);
                    }
                    let applicable = missing(&stores[&key], &r.name, h).is_empty();
                    out(&format!(
                        "  {t} [ local to this network ] {}tag: {}\n",
                        if applicable { "* " } else { "" },
                        f.tag
                    ));
                }
                None => out(&format!("  {t}\n")),
            }
        }
        if long {
            out(&format!(
                "Originating replica is: {} ({})\n",
                h.origin, h.origin_oid
            ));
            out(&format!("Packet identifier is: {}\n", h.packet_id));
            out(&format!(
                "Packet fragment: {} of {}\n",
                h.fragment, h.fragments
            ));
            out(&format!(
                "Packet creation time is: {}\n",
                cc_datetime(h.created)
            ));
            out(&format!("Recovery incarnation is: {}\n", h.incarnation));
            let ranges: Vec<String> = h
                .ranges
                .iter()
                .map(|(k, (a, b))| format!("{k}:{}-{b}", a + 1))
                .collect();
            out(&format!("Oplog ID ranges: {}\n", ranges.join(" ")));
        }
        if dump {
            out("The major packet version is 1, the minor packet version is 2\n");
            if h.fragments == 1
                && let Ok(entries) = packet::assemble(&[p])
            {
                for e in &entries {
                    out(&format!(
                        "{}: op={} rep={} elem={}\n",
                        e.id, e.op, e.origin, e.element
                    ));
                }
            }
            out(&format!(
                "Packet contains a total of {} entries.\n",
                h.entries
            ));
        }
        out(&format!("The packet sequence number is {}\n", h.fragment));
    }
    for (path, e) in &bad {
        err(&format!("{tool}: Error: {}: {e}\n", path.display()));
    }
    Ok(if bad.is_empty() { 0 } else { 1 })
}
