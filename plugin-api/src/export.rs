//! The glue [`export_driver!`](crate::export_driver) generates, written once here
//! as generic functions: every entry point decodes JSON, calls the [`Driver`],
//! encodes the answer, and turns a panic into an [`ErrorKind::Panicked`] error.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Once, OnceLock};

use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RStr, RString};

pub use abi_stable::library::{
    __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
};

pub use crate::abi::DriverModuleRef;
use crate::abi::{DriverModule, HostBox, ResourceAbi, ResourceAbi_TO, ResourceBox};
use crate::{
    ActionRequest, CommandOutput, CommandRequest, Driver, Error, ErrorKind, Host, HostServices,
    Level, ResourceConfig, log_bridge,
};

/// The symbol abi_stable looks up in every library (`abi_stable::library::ROOT_MODULE_LOADER_NAME`).
/// Spelled out because `#[unsafe(export_name)]` needs a literal; a unit test checks it.
#[macro_export]
#[doc(hidden)]
macro_rules! __root_module_symbol {
    () => {
        "_1as_0lib_1header_0root_bmodule_bloader"
    };
}

/// Exports a [`Driver`](crate::Driver) implementation as a doppel driver library.
///
/// Put it once in the driver crate's `lib.rs`, whose `Cargo.toml` has
/// `crate-type = ["cdylib"]` and whose library is named `doppel_driver_<name>` (so
/// the file is `libdoppel_driver_<name>.so`: doppel opens no other file names).
///
/// ```standalone_crate
/// use doppel_plugin_api::{
///     ActionOutcome, ActionRequest, Driver, Error, Host, Manifest, ResourceConfig, Status,
///     StatusReport,
/// };
///
/// pub struct Noop;
///
/// impl Driver for Noop {
///     fn manifest() -> Manifest {
///         Manifest::new("task", "noop", env!("CARGO_PKG_VERSION"))
///     }
///     fn open(_config: ResourceConfig, _host: Host) -> Result<Self, Error> {
///         Ok(Noop)
///     }
///     fn status(&self) -> Result<StatusReport, Error> {
///         Ok(StatusReport::new(Status::NotApplicable))
///     }
///     fn action(&self, request: &ActionRequest) -> Result<ActionOutcome, Error> {
///         Err(Error::unsupported(&request.action))
///     }
/// }
///
/// doppel_plugin_api::export_driver!(Noop);
/// # fn main() { assert_eq!(Noop::manifest().type_name(), "task.noop"); }
/// ```
///
/// The macro emits the one symbol doppel's loader looks up (a static holding
/// abi_stable's library header); the manifest gets this crate's version and
/// protocol range filled in.
#[macro_export]
macro_rules! export_driver {
    ($driver:ty) => {
        #[doc(hidden)]
        #[unsafe(export_name = $crate::__root_module_symbol!())]
        pub static __DOPPEL_DRIVER_LIB_HEADER: $crate::__private::LibHeader = {
            extern "C" fn __doppel_root_module() -> $crate::__private::RootModuleResult {
                $crate::__private::__call_root_module_loader(|| {
                    $crate::__private::driver_module::<$driver>(env!("CARGO_PKG_NAME"))
                })
            }
            // SAFETY: the header wraps this library's own root-module constructor,
            // with layout checking on, exactly as abi_stable's `export_root_module`
            // builds it.
            unsafe {
                $crate::__private::LibHeader::from_constructor::<$crate::__private::DriverModuleRef>(
                    __doppel_root_module,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

/// The driver crate's name, for panic messages that cannot ask the manifest.
static CRATE_NAME: OnceLock<String> = OnceLock::new();

/// Builds the root module for `D`. Called once, by the loader, through the static
/// [`export_driver!`](crate::export_driver) emits.
pub fn driver_module<D: Driver>(crate_name: &'static str) -> DriverModuleRef {
    let _ = CRATE_NAME.set(crate_name.to_owned());
    install_panic_hook();
    log_bridge::install();
    DriverModule {
        describe: describe::<D>,
        call: module_call::<D>,
        open: open::<D>,
    }
    .leak_into_prefix()
}

fn driver_name() -> String {
    CRATE_NAME
        .get()
        .map(|n| n.trim_start_matches("doppel-driver-").to_owned())
        .unwrap_or_else(|| "?".into())
}

thread_local! {
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// This library has its own copy of std, hence its own panic hook: record where a
/// panic happened (the message comes with the unwind payload) and print nothing,
/// so the host can report it in one line.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            // Built with `panic = "abort"`: the process ends now, and doppel
            // (which runs each driver in a process of its own) reports it from
            // these last words on stderr.
            if cfg!(panic = "abort") {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                eprintln!(
                    "driver {} panicked{}: {message}",
                    driver_name(),
                    location
                        .as_deref()
                        .map(|l| format!(" at {l}"))
                        .unwrap_or_default()
                );
            }
            PANIC_LOCATION.with(|p| *p.borrow_mut() = location);
        }));
    });
}

fn panic_error(what: &str, payload: Box<dyn Any + Send>) -> RString {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned());
    let location = PANIC_LOCATION.with(|p| p.borrow_mut().take());
    let at = location.map(|l| format!(" at {l}")).unwrap_or_default();
    let error = Error {
        kind: ErrorKind::Panicked,
        message: format!("driver {} panicked in {what}: {message}{at}", driver_name()),
    };
    RString::from(error.to_wire())
}

/// Runs `f`, turning an `Err` or a panic into the wire form of an [`Error`].
fn guarded(what: &str, f: impl FnOnce() -> Result<String, Error>) -> RResult<RString, RString> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(text)) => RResult::ROk(RString::from(text)),
        Ok(Err(error)) => RResult::RErr(RString::from(error.to_wire())),
        Err(payload) => RResult::RErr(panic_error(what, payload)),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::failed(format!("cannot encode reply: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| Error::invalid(format!("cannot decode {what}: {e}")))
}

extern "C" fn describe<D: Driver>() -> RResult<RString, RString> {
    guarded("describe", || {
        let mut manifest = D::manifest();
        manifest.api_version = crate::API_VERSION.to_owned();
        manifest.protocol = crate::PROTOCOL_VERSION;
        manifest.protocol_min = crate::PROTOCOL_MIN;
        manifest.protocol_max = crate::PROTOCOL_VERSION;
        to_json(&manifest)
    })
}

extern "C" fn module_call<D: Driver>(
    method: RStr<'_>,
    request: RStr<'_>,
) -> RResult<RString, RString> {
    guarded(method.as_str(), || match method.as_str() {
        "validate" => {
            let config: ResourceConfig = from_json("resource config", request.as_str())?;
            to_json(&D::validate(&config))
        }
        other => Err(Error::unsupported(other)),
    })
}

extern "C" fn open<D: Driver>(config: RStr<'_>, host: HostBox) -> RResult<ResourceBox, RString> {
    let services: Arc<dyn HostServices> = Arc::new(AbiHost(host));
    log_bridge::set_fallback(services.clone());
    let opened = catch_unwind(AssertUnwindSafe(|| {
        let config: ResourceConfig = from_json("resource config", config.as_str())?;
        log_bridge::with_current(services.clone(), || {
            D::open(config, Host::new(services.clone()))
        })
    }));
    match opened {
        Ok(Ok(driver)) => {
            let resource = Resource { driver, services };
            RResult::ROk(ResourceAbi_TO::from_value(resource, TD_Opaque))
        }
        Ok(Err(error)) => RResult::RErr(RString::from(error.to_wire())),
        Err(payload) => RResult::RErr(panic_error("open", payload)),
    }
}

struct Resource<D> {
    driver: D,
    services: Arc<dyn HostServices>,
}

impl<D: Driver> ResourceAbi for Resource<D> {
    fn call(&self, method: RStr<'_>, request: RStr<'_>) -> RResult<RString, RString> {
        let method = method.as_str();
        log_bridge::with_current(self.services.clone(), || {
            guarded(method, || match method {
                "status" => to_json(&self.driver.status()?),
                "action" => {
                    let request: ActionRequest = from_json("action request", request.as_str())?;
                    to_json(&self.driver.action(&request)?)
                }
                other => {
                    let value = from_json::<serde_json::Value>("request", request.as_str())?;
                    to_json(&self.driver.call(other, value)?)
                }
            })
        })
    }
}

/// [`HostServices`] over the host's ABI object.
struct AbiHost(HostBox);

fn rresult_json<T: serde::de::DeserializeOwned>(
    what: &str,
    r: RResult<RString, RString>,
) -> Result<T, Error> {
    match r {
        RResult::ROk(text) => from_json(what, text.as_str()),
        RResult::RErr(text) => Err(Error::from_wire(text.as_str())),
    }
}

impl HostServices for AbiHost {
    fn log(&self, level: Level, message: &str) {
        self.0.log(level as u8, RStr::from_str(message));
    }

    fn run_command(&self, request: &CommandRequest) -> Result<CommandOutput, Error> {
        let text = to_json(request)?;
        rresult_json("command output", self.0.run_command(RStr::from_str(&text)))
    }

    fn state_get(&self, key: &str) -> Option<String> {
        match self.0.state_get(RStr::from_str(key)) {
            ROption::RSome(v) => Some(v.into_string()),
            ROption::RNone => None,
        }
    }

    fn state_put(&self, key: &str, value: &str) -> Result<(), Error> {
        match self.0.state_put(RStr::from_str(key), RStr::from_str(value)) {
            RResult::ROk(()) => Ok(()),
            RResult::RErr(e) => Err(Error::from_wire(e.as_str())),
        }
    }

    fn cancelled(&self) -> bool {
        self.0.cancelled()
    }

    fn call(&self, method: &str, request: &serde_json::Value) -> Result<serde_json::Value, Error> {
        let text = to_json(request)?;
        rresult_json(
            "reply",
            self.0.call(RStr::from_str(method), RStr::from_str(&text)),
        )
    }
}
