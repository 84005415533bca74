//! `doppel schedule check` (filled in by the scheduler work).

use std::process::ExitCode;

use crate::Context;
use crate::cli::ScheduleCommand;

pub fn run(_ctx: &Context, _command: ScheduleCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("schedule check: not available yet")
}
