//! Where doppel keeps things, all under one root (`--root`, default `/`).

use std::path::{Path, PathBuf};

/// The file layout of DESIGN §4, relative to a root directory.
#[derive(Clone, Debug)]
pub struct Paths {
    root: PathBuf,
}

impl Paths {
    /// Paths under `root` (`/` on a real system, a temp dir in tests and the lab).
    pub fn new(root: impl Into<PathBuf>) -> Paths {
        Paths { root: root.into() }
    }

    /// The root itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `etc/doppel/doppel.toml`.
    pub fn node_config(&self) -> PathBuf {
        self.root.join("etc/doppel/doppel.toml")
    }

    /// `etc/doppel/services/`.
    pub fn services_dir(&self) -> PathBuf {
        self.root.join("etc/doppel/services")
    }

    /// `etc/doppel/services/<name>.conf`.
    pub fn service_file(&self, name: &str) -> PathBuf {
        self.services_dir().join(format!("{name}.conf"))
    }

    /// `var/lib/doppel/<svc>/`.
    pub fn service_state_dir(&self, svc: &str) -> PathBuf {
        self.root.join("var/lib/doppel").join(svc)
    }

    /// `var/lib/doppel/<svc>/<rid>/`, private to one resource.
    pub fn resource_state_dir(&self, svc: &str, rid: &str) -> PathBuf {
        self.service_state_dir(svc).join(rid)
    }

    /// `var/log/doppel/<svc>.log`.
    pub fn service_log(&self, svc: &str) -> PathBuf {
        self.root.join("var/log/doppel").join(format!("{svc}.log"))
    }

    /// `var/cache/doppel/drivers.json`: the driver manifests of the last command,
    /// so that the next one need not load unchanged libraries to read them.
    pub fn driver_cache(&self) -> PathBuf {
        self.root.join("var/cache/doppel/drivers.json")
    }

    /// `var/log/doppel/`.
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("var/log/doppel")
    }
}
