//! `mtsim`: set up and inspect the simulated MultiSite world, and break things in
//! transit. Not a MultiSite command.

use std::path::{Path, PathBuf};

use doppel_sim::common::faults::Fault;
use doppel_sim::common::{SimError, SimResult, StateDir, clock, err, out, to_json, write_atomic};
use serde_json::json;

use crate::shipping::{corrupt_bytes, truncate_bytes};
use crate::world::{Family, Mts, ReplicaInfo, STATE_NAME, Selector, Store, make_oid};

const USAGE: &str = "\
Usage:
  mtsim family create <vob-tag> <replica>@<host> ... [--clan CLAN]
  mtsim family list
  mtsim change <replica-selector> [--element E] [--text T] [--count N]
  mtsim content <replica-selector>            the replica's versions, one per line
  mtsim show <replica-selector>               JSON: epoch matrix, oplog size, history
  mtsim bay <host> [--sclass C] [--outgoing]  a bay's incoming (or outgoing) directory
  mtsim hold [HOST ...]                       keep deliveries to HOST (default: all) in transit
  mtsim release [HOST ...]                    stop holding (held packets stay in transit)
  mtsim transit list [--host H]
  mtsim transit deliver [--host H] [--reverse] [NAME ...]
  mtsim transit drop NAME ...
  mtsim fail drop|corrupt|truncate [--count N | --always] [--to HOST] [--fragment N]
  mtsim faults | mtsim clear [KIND]
  mtsim packet corrupt|truncate|drop PATH ...
  mtsim packet age PATH SECONDS               pretend PATH arrived SECONDS ago
  mtsim lock|unlock <replica-selector>
  mtsim clock advance SECS | set OFFSET | reset | show
  mtsim reset";

fn usage(msg: &str) -> SimError {
    SimError::new(1, format!("{msg}\n{USAGE}"))
}

pub fn main(args: Vec<String>) -> i32 {
    match run(args) {
        Ok(()) => 0,
        Err(e) => {
            err(&format!("mtsim: {}\n", e.message));
            e.code
        }
    }
}

/// `--name value` options (`None` for flags).
type Opts = Vec<(String, Option<String>)>;

/// Splits `--key value` options (and `--flag`) from positionals.
fn options(args: &[String], flags: &[&str]) -> SimResult<(Vec<String>, Opts)> {
    let mut pos = Vec::new();
    let mut opts = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            if flags.contains(&name) {
                opts.push((name.to_owned(), None));
            } else {
                let v = it
                    .next()
                    .ok_or_else(|| usage(&format!("option --{name} needs a value")))?;
                opts.push((name.to_owned(), Some(v.clone())));
            }
        } else {
            pos.push(a.clone());
        }
    }
    Ok((pos, opts))
}

fn opt<'a>(opts: &'a [(String, Option<String>)], name: &str) -> Option<&'a str> {
    opts.iter()
        .rev()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v.as_deref())
}

fn flag(opts: &[(String, Option<String>)], name: &str) -> bool {
    opts.iter().any(|(n, _)| n == name)
}

fn replica(mts: &Mts, text: &str) -> SimResult<(Family, ReplicaInfo)> {
    let sel = Selector::parse(text)
        .ok_or_else(|| usage(&format!("invalid replica selector '{text}'")))?;
    mts.find_replica(&sel)
}

fn run(args: Vec<String>) -> SimResult<()> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err(usage("a command is required"));
    };
    let rest = rest.to_vec();
    match cmd.as_str() {
        "family" => family(&rest),
        "change" => change(&rest),
        "content" => {
            let [sel] = rest.as_slice() else {
                return Err(usage("content takes one replica"));
            };
            let mts = Mts::open()?;
            let (f, r) = replica(&mts, sel)?;
            for line in mts.load_store(&f.tag, &r.name)?.listing() {
                out(&format!("{line}\n"));
            }
            Ok(())
        }
        "show" => {
            let [sel] = rest.as_slice() else {
                return Err(usage("show takes one replica"));
            };
            let mts = Mts::open()?;
            let (f, r) = replica(&mts, sel)?;
            let s = mts.load_store(&f.tag, &r.name)?;
            let cols = f.names();
            let matrix: serde_json::Map<String, serde_json::Value> = f
                .replicas
                .iter()
                .map(|x| (x.name.clone(), json!(s.row(&x.name, &cols))))
                .collect();
            out(&to_json(&json!({
                "vob": f.tag, "replica": r.name, "host": r.host, "oid": r.oid,
                "row": s.row(&r.name, &cols), "epoch": matrix, "oplog_entries": s.oplog.len(),
                "packets_generated": s.generated, "exports": s.exports.len(),
                "history": s.history.iter().map(|h| format!("{} {}", h.event, h.row)).collect::<Vec<_>>(),
            })));
            Ok(())
        }
        "bay" => {
            let (pos, opts) = options(&rest, &["outgoing"])?;
            let [host] = pos.as_slice() else {
                return Err(usage("bay takes one host"));
            };
            let mts = Mts::open()?;
            let bay = mts.bay(
                host,
                opt(&opts, "sclass").unwrap_or(crate::world::DEFAULT_CLASS),
            )?;
            out(&format!(
                "{}\n",
                bay.join(if flag(&opts, "outgoing") {
                    "outgoing"
                } else {
                    "incoming"
                })
                .display()
            ));
            Ok(())
        }
        "hold" | "release" => {
            let mut mts = Mts::open()?;
            let hosts = if rest.is_empty() {
                vec!["*".to_owned()]
            } else {
                rest.clone()
            };
            if cmd == "hold" {
                for h in hosts {
                    if !mts.world.hold.contains(&h) {
                        mts.world.hold.push(h);
                    }
                }
            } else if rest.is_empty() {
                mts.world.hold.clear();
            } else {
                mts.world.hold.retain(|h| !hosts.contains(h));
            }
            mts.save()
        }
        "transit" => transit(&rest),
        "fail" => fail(&rest),
        "faults" => {
            let mts = Mts::open()?;
            out(&to_json(&mts.world.faults));
            Ok(())
        }
        "clear" => {
            let mut mts = Mts::open()?;
            let n = mts.world.faults.clear(rest.first().map(String::as_str));
            mts.save()?;
            out(&format!("cleared {n} fault(s)\n"));
            Ok(())
        }
        "packet" => packet_cmd(&rest),
        "lock" | "unlock" => {
            let [sel] = rest.as_slice() else {
                return Err(usage("lock takes one replica"));
            };
            let mut mts = Mts::open()?;
            let (f, r) = replica(&mts, sel)?;
            let key = format!("{} {}", f.tag, r.name);
            mts.world.locked.retain(|k| k != &key);
            if cmd == "lock" {
                mts.world.locked.push(key);
            }
            mts.save()
        }
        "clock" => clock_cmd(&rest),
        "reset" => {
            let dir = StateDir::open(STATE_NAME)?;
            let path = dir.path().to_owned();
            let _lock = dir.lock().map_err(|e| SimError::new(1, e.to_string()))?;
            for entry in std::fs::read_dir(&path)
                .map_err(|e| SimError::new(1, e.to_string()))?
                .flatten()
            {
                if entry.file_name() == ".lock" {
                    continue;
                }
                let p = entry.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
            Ok(())
        }
        "-h" | "--help" | "help" => {
            out(&format!("{USAGE}\n"));
            Ok(())
        }
        other => Err(usage(&format!("unknown command '{other}'"))),
    }
}

fn family(args: &[String]) -> SimResult<()> {
    let Some((sub, rest)) = args.split_first() else {
        return Err(usage("family create|list"));
    };
    match sub.as_str() {
        "create" => {
            let (pos, opts) = options(rest, &[])?;
            let Some((tag, reps)) = pos.split_first() else {
                return Err(usage("family create needs a VOB tag"));
            };
            if reps.len() < 2 {
                return Err(usage(
                    "a VOB family needs at least two replicas (<replica>@<host>)",
                ));
            }
            let mut mts = Mts::open()?;
            if mts.family(tag).is_some() {
                return Err(SimError::new(1, format!("VOB family {tag} already exists")));
            }
            let serial = mts.next_serial();
            let oid = make_oid(&format!("family|{tag}|{serial}"));
            let mut replicas = Vec::new();
            for r in reps {
                let (name, host) = r
                    .split_once('@')
                    .ok_or_else(|| usage(&format!("replica '{r}' must be <replica>@<host>")))?;
                if name.is_empty()
                    || host.is_empty()
                    || replicas.iter().any(|x: &ReplicaInfo| x.name == name)
                {
                    return Err(usage(&format!("bad or duplicate replica '{r}'")));
                }
                mts.ensure_host(host)?;
                replicas.push(ReplicaInfo {
                    name: name.to_owned(),
                    oid: make_oid(&format!("replica|{oid}|{name}")),
                    host: host.to_owned(),
                });
            }
            let fam = Family {
                tag: tag.clone(),
                oid,
                clan: opt(&opts, "clan").map(str::to_owned),
                replicas,
            };
            for r in &fam.replicas {
                let mut s = Store::default();
                for row in &fam.replicas {
                    for col in &fam.replicas {
                        s.set(&row.name, &col.name, 0);
                    }
                }
                mts.save_store(&fam.tag, &r.name, &s)?;
            }
            out(&format!(
                "Created VOB family {} ({}) with replicas {}\n",
                fam.tag,
                fam.oid,
                fam.replicas
                    .iter()
                    .map(|r| format!("{}@{}", r.name, r.host))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            mts.world.families.push(fam);
            mts.save()
        }
        "list" => {
            let mts = Mts::open()?;
            out(&to_json(&mts.world.families));
            Ok(())
        }
        other => Err(usage(&format!("unknown family command '{other}'"))),
    }
}

fn change(args: &[String]) -> SimResult<()> {
    let (pos, opts) = options(args, &[])?;
    let [sel] = pos.as_slice() else {
        return Err(usage("change takes one replica"));
    };
    let count: u64 = opt(&opts, "count")
        .map(|c| c.parse().map_err(|_| usage("bad --count")))
        .transpose()?
        .unwrap_or(1);
    let mts = Mts::open()?;
    let (f, r) = replica(&mts, sel)?;
    if mts.is_locked(&f.tag, &r.name) {
        return Err(SimError::new(
            1,
            format!("VOB {} (replica {}) is locked", f.tag, r.name),
        ));
    }
    let mut s = mts.load_store(&f.tag, &r.name)?;
    let now = clock::now();
    for _ in 0..count {
        let element = opt(&opts, "element")
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{}.c", r.name));
        if !s.content.contains_key(&element) {
            s.local_change(&r.name, "mkelem", &element, "", now);
        }
        let next = s.get(&r.name, &r.name) + 1;
        let text = opt(&opts, "text")
            .map(str::to_owned)
            .unwrap_or_else(|| format!("change {next} made at {}", r.name));
        let e = s.local_change(&r.name, "checkin", &element, &text, now);
        out(&format!(
            "{}: oplog ID {} checkin {}\n",
            r.name, e.id, element
        ));
    }
    mts.save_store(&f.tag, &r.name, &s)
}

/// Packets in transit: (host, class dir, path), in arrival order.
fn in_transit(mts: &Mts, host: Option<&str>) -> Vec<(String, PathBuf)> {
    let base = mts.path("transit");
    let mut v: Vec<(String, PathBuf, f64)> = Vec::new();
    for h in std::fs::read_dir(&base).into_iter().flatten().flatten() {
        let hname = h.file_name().to_string_lossy().into_owned();
        if host.is_some_and(|w| w != hname) {
            continue;
        }
        for c in std::fs::read_dir(h.path()).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(c.path()).into_iter().flatten().flatten() {
                let p = f.path();
                if p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    continue;
                }
                let t = mtime(&p);
                v.push((hname.clone(), p, t));
            }
        }
    }
    v.sort_by(|a, b| {
        a.2.total_cmp(&b.2)
            .then_with(|| a.1.file_name().cmp(&b.1.file_name()))
    });
    v.into_iter().map(|(h, p, _)| (h, p)).collect()
}

fn mtime(p: &Path) -> f64 {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn set_mtime(p: &Path, when: std::time::SystemTime) -> SimResult<()> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .map_err(|e| SimError::new(1, format!("{}: {e}", p.display())))?;
    f.set_modified(when)
        .map_err(|e| SimError::new(1, format!("{}: {e}", p.display())))
}

fn transit(args: &[String]) -> SimResult<()> {
    let Some((sub, rest)) = args.split_first() else {
        return Err(usage("transit list|deliver|drop"));
    };
    let (pos, opts) = options(rest, &["reverse"])?;
    let mts = Mts::open()?;
    let all = in_transit(&mts, opt(&opts, "host"));
    let pick = |names: &[String]| -> SimResult<Vec<(String, PathBuf)>> {
        if names.is_empty() {
            return Ok(all.clone());
        }
        let mut v = Vec::new();
        for n in names {
            let found: Vec<&(String, PathBuf)> = all
                .iter()
                .filter(|(_, p)| {
                    p.file_name()
                        .is_some_and(|f| f.to_string_lossy() == *n || p.display().to_string() == *n)
                })
                .collect();
            if found.is_empty() {
                return Err(SimError::new(1, format!("no packet {n} in transit")));
            }
            v.extend(found.into_iter().cloned());
        }
        Ok(v)
    };
    match sub.as_str() {
        "list" => {
            for (h, p) in &all {
                out(&format!(
                    "{h} {}\n",
                    p.file_name().unwrap_or_default().to_string_lossy()
                ));
            }
            Ok(())
        }
        "deliver" => {
            let mut chosen = pick(&pos)?;
            if flag(&opts, "reverse") {
                chosen.reverse();
            }
            for (i, (h, p)) in chosen.iter().enumerate() {
                let class_dir = p
                    .parent()
                    .and_then(|d| d.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let host = mts
                    .host(h)
                    .ok_or_else(|| SimError::new(1, format!("unknown host {h}")))?;
                let bay = host
                    .classes
                    .iter()
                    .find(|(c, _)| crate::world::class_dir(c) == class_dir)
                    .map(|(_, b)| b.clone())
                    .ok_or_else(|| {
                        SimError::new(1, format!("host {h} has no bay for class {class_dir}"))
                    })?;
                let dest = bay.join("incoming").join(p.file_name().unwrap_or_default());
                std::fs::rename(p, &dest).map_err(|e| {
                    SimError::new(1, format!("cannot deliver {}: {e}", p.display()))
                })?;
                // Arrival order is delivery order.
                let when =
                    std::time::SystemTime::now() + std::time::Duration::from_millis(i as u64);
                set_mtime(&dest, when)?;
                out(&format!("delivered {} to {h}\n", dest.display()));
            }
            Ok(())
        }
        "drop" => {
            if pos.is_empty() {
                return Err(usage("transit drop needs packet names"));
            }
            for (_, p) in pick(&pos)? {
                std::fs::remove_file(&p)
                    .map_err(|e| SimError::new(1, format!("{}: {e}", p.display())))?;
                out(&format!("dropped {}\n", p.display()));
            }
            Ok(())
        }
        other => Err(usage(&format!("unknown transit command '{other}'"))),
    }
}

fn fail(args: &[String]) -> SimResult<()> {
    let (pos, opts) = options(args, &["always"])?;
    let [kind] = pos.as_slice() else {
        return Err(usage("fail takes one kind"));
    };
    if !["drop", "corrupt", "truncate"].contains(&kind.as_str()) {
        return Err(usage(&format!(
            "unknown fault kind '{kind}' (drop, corrupt, truncate)"
        )));
    }
    let remaining = if flag(&opts, "always") {
        None
    } else {
        Some(
            opt(&opts, "count")
                .map(|c| c.parse::<u32>().map_err(|_| usage("bad --count")))
                .transpose()?
                .unwrap_or(1),
        )
    };
    let mut mts = Mts::open()?;
    mts.world.faults.add(Fault {
        kind: kind.clone(),
        remaining,
        on: opt(&opts, "fragment")
            .map(|f| vec![f.to_owned()])
            .unwrap_or_default(),
        objects: opt(&opts, "to")
            .map(|h| vec![h.to_owned()])
            .unwrap_or_default(),
        ..Fault::default()
    });
    mts.save()
}

fn packet_cmd(args: &[String]) -> SimResult<()> {
    let Some((sub, rest)) = args.split_first() else {
        return Err(usage("packet corrupt|truncate|drop|age"));
    };
    let _mts = Mts::open()?;
    match sub.as_str() {
        "age" => {
            let [path, secs] = rest else {
                return Err(usage("packet age PATH SECONDS"));
            };
            let secs: f64 = secs.parse().map_err(|_| usage("bad SECONDS"))?;
            let when =
                std::time::SystemTime::now() - std::time::Duration::from_secs_f64(secs.max(0.0));
            set_mtime(Path::new(path), when)
        }
        "corrupt" | "truncate" | "drop" => {
            if rest.is_empty() {
                return Err(usage("packet needs paths"));
            }
            for p in rest {
                let p = Path::new(p);
                if sub == "drop" {
                    std::fs::remove_file(p)
                        .map_err(|e| SimError::new(1, format!("{}: {e}", p.display())))?;
                    continue;
                }
                let when = std::fs::metadata(p).and_then(|m| m.modified()).ok();
                let mut data = std::fs::read(p)
                    .map_err(|e| SimError::new(1, format!("{}: {e}", p.display())))?;
                if sub == "corrupt" {
                    corrupt_bytes(&mut data);
                } else {
                    truncate_bytes(&mut data);
                }
                write_atomic(p, &data)
                    .map_err(|e| SimError::new(1, format!("{}: {e}", p.display())))?;
                if let Some(w) = when {
                    set_mtime(p, w)?;
                }
            }
            Ok(())
        }
        other => Err(usage(&format!("unknown packet command '{other}'"))),
    }
}

fn clock_cmd(args: &[String]) -> SimResult<()> {
    match args {
        [c, secs] if c == "advance" => {
            let s: f64 = secs.parse().map_err(|_| usage("bad SECS"))?;
            clock::set_offset(clock::offset() + s)
        }
        [c, off] if c == "set" => clock::set_offset(off.parse().map_err(|_| usage("bad OFFSET"))?),
        [c] if c == "reset" => clock::set_offset(0.0),
        [c] if c == "show" => {
            out(&format!(
                "offset {} s, now {}\n",
                clock::offset(),
                crate::dates::cc_datetime(clock::now())
            ));
            Ok(())
        }
        _ => Err(usage("clock advance SECS | set OFFSET | reset | show")),
    }
}
