//! `validate`, `print config` and `template` (filled in by the config work).

use std::process::ExitCode;

use crate::Context;
use crate::cli::ActionArgs;

pub fn validate(_ctx: &Context, _args: &ActionArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("validate: not available yet")
}

pub fn print_config(_ctx: &Context, _args: &ActionArgs, _eval: bool) -> anyhow::Result<ExitCode> {
    anyhow::bail!("print config: not available yet")
}

pub fn template(_ctx: &Context, _type_name: &str) -> anyhow::Result<ExitCode> {
    anyhow::bail!("template: not available yet")
}
