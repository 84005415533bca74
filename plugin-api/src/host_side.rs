//! The host's side of the boundary: load a driver library, read its manifest, open
//! resources and call them, all with plain Rust types.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use abi_stable::library::{LibraryError, RootModule, lib_header_from_path};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RStr, RString};

use crate::abi::{DriverModuleRef, HostAbi, HostAbi_TO, ResourceBox};
use crate::{
    ActionOutcome, ActionRequest, CommandRequest, Error, HostServices, Level, Manifest, Problem,
    ResourceConfig, StatusReport,
};

/// Why a library could not be used as a driver. [`fmt::Display`] gives one line;
/// [`LoadError::detail`] the full report (abi_stable's layout dumps can run to
/// hundreds of lines, so they are kept for `-v`).
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be opened as a shared library.
    Open(String),
    /// A shared library without doppel's root module.
    NotADriver,
    /// Built against another major version of doppel-plugin-api.
    IncompatibleVersion {
        /// The version the host was built against.
        host: String,
        /// The version the driver was built against.
        driver: String,
    },
    /// The ABI does not match (e.g. built against an incompatible abi_stable or a
    /// modified plugin-api).
    AbiMismatch(String),
    /// The library loaded but its manifest could not be read.
    Describe(Error),
    /// A driver whose protocol is newer than this host's.
    ProtocolTooNew {
        /// The driver's protocol version.
        driver: u32,
        /// This host's.
        host: u32,
    },
}

impl LoadError {
    /// The long form, for verbose output.
    pub fn detail(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Open(why) => write!(f, "cannot open as a shared library: {why}"),
            LoadError::NotADriver => write!(
                f,
                "not a doppel driver (no driver root module in the library)"
            ),
            LoadError::IncompatibleVersion { host, driver } => write!(
                f,
                "built against doppel-plugin-api {driver}, this doppel needs {}.x (rebuild the driver)",
                host.split('.').next().unwrap_or(host)
            ),
            LoadError::AbiMismatch(why) => write!(f, "incompatible driver ABI: {why}"),
            LoadError::Describe(e) => write!(f, "cannot read the driver manifest: {e}"),
            LoadError::ProtocolTooNew { driver, host } => {
                write!(
                    f,
                    "driver speaks protocol {driver}, this doppel only {host} (upgrade doppel)"
                )
            }
        }
    }
}

impl std::error::Error for LoadError {}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_owned()
}

fn map_library_error(err: LibraryError) -> LoadError {
    match err {
        LibraryError::OpenError { err, .. } => LoadError::Open(first_line(&err.to_string())),
        LibraryError::GetSymbolError { .. } => LoadError::NotADriver,
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => LoadError::IncompatibleVersion {
            host: expected_version.to_string(),
            driver: actual_version.to_string(),
        },
        LibraryError::AbiInstability(e) => {
            let text = e.to_string();
            let summary = text
                .lines()
                .map(str::trim)
                .find(|l| {
                    l.contains("too many fields") || l.contains("mismatch") || l.contains("Error")
                })
                .map(str::to_owned)
                .unwrap_or_else(|| first_line(&text));
            LoadError::AbiMismatch(summary)
        }
        LibraryError::InvalidAbiHeader(h) => {
            LoadError::AbiMismatch(format!("built with another abi_stable ABI ({h:?})"))
        }
        LibraryError::RootModule { err, .. } => {
            LoadError::AbiMismatch(first_line(&err.to_string()))
        }
        other => LoadError::AbiMismatch(first_line(&other.to_string())),
    }
}

/// A driver library loaded into this process (never unloaded).
pub struct LoadedDriver {
    module: DriverModuleRef,
    manifest: Manifest,
    path: PathBuf,
}

impl fmt::Debug for LoadedDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedDriver")
            .field("type", &self.manifest.type_name())
            .field("path", &self.path)
            .finish()
    }
}

/// Loads the driver library at `path` and reads its manifest.
///
/// Every library is loaded on its own (abi_stable's per-type cache is bypassed), so
/// any number of drivers can be loaded. Libraries stay loaded until the process
/// exits.
pub fn load_driver(path: &Path) -> Result<LoadedDriver, LoadError> {
    let header = lib_header_from_path(path).map_err(map_library_error)?;
    let module = header
        .init_root_module::<DriverModuleRef>()
        .map_err(map_library_error)?;
    let manifest_json = match module.describe()() {
        RResult::ROk(text) => text,
        RResult::RErr(e) => return Err(LoadError::Describe(Error::from_wire(e.as_str()))),
    };
    let manifest: Manifest = serde_json::from_str(manifest_json.as_str())
        .map_err(|e| LoadError::Describe(Error::invalid(format!("bad manifest JSON: {e}"))))?;
    if crate::negotiate(
        (crate::PROTOCOL_MIN, crate::PROTOCOL_VERSION),
        manifest.protocol_range(),
    )
    .is_none()
    {
        return Err(LoadError::ProtocolTooNew {
            driver: manifest.protocol,
            host: crate::PROTOCOL_VERSION,
        });
    }
    Ok(LoadedDriver {
        module,
        manifest,
        path: path.to_owned(),
    })
}

// Make sure RootModule stays in scope for init_root_module's bound.
const _: fn() = || {
    fn assert_root<M: RootModule>() {}
    assert_root::<DriverModuleRef>();
};

fn decode<T: serde::de::DeserializeOwned>(r: RResult<RString, RString>) -> Result<T, Error> {
    match r {
        RResult::ROk(text) => serde_json::from_str(text.as_str())
            .map_err(|e| Error::failed(format!("driver sent an unreadable reply: {e}"))),
        RResult::RErr(text) => Err(Error::from_wire(text.as_str())),
    }
}

fn encode<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("protocol types always serialize")
}

impl LoadedDriver {
    /// The driver's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Asks the driver to check a resource's configuration.
    pub fn validate(&self, config: &ResourceConfig) -> Result<Vec<Problem>, Error> {
        let text = encode(config);
        decode(self.module.call()(
            RStr::from_str("validate"),
            RStr::from_str(&text),
        ))
    }

    /// Opens a resource; `host` serves its callbacks.
    pub fn open(
        &self,
        config: &ResourceConfig,
        host: Arc<dyn HostServices>,
    ) -> Result<OpenResource, Error> {
        let text = encode(config);
        let host = HostAbi_TO::from_value(HostAdapter(host), TD_Opaque);
        match self.module.open()(RStr::from_str(&text), host) {
            RResult::ROk(resource) => Ok(OpenResource { resource }),
            RResult::RErr(e) => Err(Error::from_wire(e.as_str())),
        }
    }
}

/// A resource opened by a driver.
pub struct OpenResource {
    resource: ResourceBox,
}

impl OpenResource {
    /// The resource's status as the driver sees it.
    pub fn status(&self) -> Result<StatusReport, Error> {
        decode(
            self.resource
                .call(RStr::from_str("status"), RStr::from_str("{}")),
        )
    }

    /// Runs an action.
    pub fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
        let text = encode(request);
        decode(
            self.resource
                .call(RStr::from_str("action"), RStr::from_str(&text)),
        )
    }

    /// A method added after protocol 1.
    pub fn call(
        &self,
        method: &str,
        request: &serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let text = encode(request);
        decode(
            self.resource
                .call(RStr::from_str(method), RStr::from_str(&text)),
        )
    }
}

/// Serves the ABI's host callbacks from a [`HostServices`].
struct HostAdapter(Arc<dyn HostServices>);

impl HostAbi for HostAdapter {
    fn log(&self, level: u8, message: RStr<'_>) {
        self.0.log(Level::from_u8(level), message.as_str());
    }

    fn run_command(&self, request: RStr<'_>) -> RResult<RString, RString> {
        let request: CommandRequest = match serde_json::from_str(request.as_str()) {
            Ok(r) => r,
            Err(e) => {
                return RResult::RErr(
                    Error::invalid(format!("bad command request: {e}"))
                        .to_wire()
                        .into(),
                );
            }
        };
        match self.0.run_command(&request) {
            Ok(out) => RResult::ROk(encode(&out).into()),
            Err(e) => RResult::RErr(e.to_wire().into()),
        }
    }

    fn state_get(&self, key: RStr<'_>) -> ROption<RString> {
        match self.0.state_get(key.as_str()) {
            Some(v) => ROption::RSome(v.into()),
            None => ROption::RNone,
        }
    }

    fn state_put(&self, key: RStr<'_>, value: RStr<'_>) -> RResult<(), RString> {
        match self.0.state_put(key.as_str(), value.as_str()) {
            Ok(()) => RResult::ROk(()),
            Err(e) => RResult::RErr(e.to_wire().into()),
        }
    }

    fn cancelled(&self) -> bool {
        self.0.cancelled()
    }

    fn call(&self, method: RStr<'_>, request: RStr<'_>) -> RResult<RString, RString> {
        let value = serde_json::from_str(request.as_str()).unwrap_or(serde_json::Value::Null);
        match self.0.call(method.as_str(), &value) {
            Ok(v) => RResult::ROk(encode(&v).into()),
            Err(e) => RResult::RErr(e.to_wire().into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn root_module_symbol_matches_abi_stable() {
        assert_eq!(
            crate::__root_module_symbol!(),
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }
}

#[cfg(test)]
mod frozen {
    /// The ABI of 1.0.0 is frozen for the whole 1.x series (see abi.rs and
    /// README.md). If this fails you changed `src/abi.rs`: revert it and evolve the
    /// JSON messages instead. Only a 2.0.0 may change the ABI (and this hash).
    #[test]
    fn abi_is_frozen() {
        let source = include_str!("abi.rs");
        // FNV-1a 64 over the code only: comments, `use` declarations and all
        // whitespace are left out, so documentation and formatting can change.
        let code: String = source
            .split("\n\n")
            .filter(|block| !block.trim_start().starts_with("use "))
            .flat_map(str::lines)
            .map(str::trim)
            .filter(|l| !l.starts_with("//"))
            .flat_map(str::chars)
            .filter(|c| !c.is_whitespace())
            .collect();
        let mut hash: u64 = 0xcbf29ce484222325;
        for b in code.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x100000001b3);
        }
        assert_eq!(
            format!("{hash:016x}"),
            "e3a06b96c0990788",
            "the frozen ABI 1.0 in src/abi.rs changed"
        );
    }
}
