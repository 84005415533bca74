//! The frozen binary interface (ABI 1.0). Nothing here is public: driver authors
//! see [`Driver`](crate::Driver) and the host sees [`LoadedDriver`](crate::LoadedDriver).
//!
//! FROZEN: no field may be added to, removed from or reordered in these types, and
//! no method added to these traits, for the whole 1.x series. abi_stable refuses to
//! load a library whose prefix types have fewer fields than the host expects, so any
//! such change would stop every driver built against an earlier 1.x from loading.
//! Evolve the JSON messages in `protocol.rs` instead. `tests::abi_is_frozen` pins
//! this file's contents.

use abi_stable::{
    StableAbi, declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RBox, ROption, RResult, RStr, RString},
};

/// The root module every driver library exports. Errors are JSON-encoded
/// [`Error`](crate::Error)s.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = DriverModuleRef)))]
#[sabi(missing_field(panic))]
pub struct DriverModule {
    /// The manifest, as JSON.
    pub describe: extern "C" fn() -> RResult<RString, RString>,
    /// Module-level requests (`validate`, and any added later).
    pub call: extern "C" fn(method: RStr<'_>, request: RStr<'_>) -> RResult<RString, RString>,
    /// Opens a resource from its JSON `ResourceConfig`.
    #[sabi(last_prefix_field)]
    pub open: extern "C" fn(config: RStr<'_>, host: HostBox) -> RResult<ResourceBox, RString>,
}

impl RootModule for DriverModuleRef {
    declare_root_module_statics! {DriverModuleRef}
    const BASE_NAME: &'static str = "doppel_driver";
    const NAME: &'static str = "doppel driver";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// An open resource. Methods: `status`, `action`, and anything later protocols add.
#[sabi_trait]
pub trait ResourceAbi: Send + Sync {
    #[sabi(last_prefix_field)]
    fn call(&self, method: RStr<'_>, request: RStr<'_>) -> RResult<RString, RString>;
}

/// The host's services, passed to each `open`.
#[sabi_trait]
pub trait HostAbi: Send + Sync {
    fn log(&self, level: u8, message: RStr<'_>);
    fn run_command(&self, request: RStr<'_>) -> RResult<RString, RString>;
    fn state_get(&self, key: RStr<'_>) -> ROption<RString>;
    fn state_put(&self, key: RStr<'_>, value: RStr<'_>) -> RResult<(), RString>;
    fn cancelled(&self) -> bool;
    #[sabi(last_prefix_field)]
    fn call(&self, method: RStr<'_>, request: RStr<'_>) -> RResult<RString, RString>;
}

pub type ResourceBox = ResourceAbi_TO<'static, RBox<()>>;
pub type HostBox = HostAbi_TO<'static, RBox<()>>;
