//! The AIX command lines (alt_disk_copy, alt_rootvg_op, lspv, bootlist), how
//! they are run, and what the driver records of a clone.

use std::collections::BTreeSet;
use std::time::Duration;

use doppel_plugin_api::{CommandRequest, Error};

use crate::config::tool_path;
use crate::layout::{Layout, parse_bootlist, parse_lspv};
use crate::phases::{Phases, phases_from_text};
use crate::{
    ALTINST, AltDisk, DEFAULT_COPY_TIMEOUT, KEY_CLONED_AT, KEY_DISKS, KEY_PHASES, OP_TIMEOUT,
    QUERY_TIMEOUT,
};

impl AltDisk {
    pub(crate) fn tool(&self, name: &str) -> String {
        tool_path(&self.config, name)
    }

    pub(crate) fn targets(&self) -> Result<Vec<String>, Error> {
        let disks = self.config.get_list("disks");
        if disks.is_empty() {
            return Err(Error::invalid(format!(
                "{}: keyword 'disks' is required",
                self.config.rid
            )));
        }
        Ok(disks)
    }

    pub(crate) fn list_text(&self, keyword: &str) -> Option<String> {
        let list = self.config.get_list(keyword);
        (!list.is_empty()).then(|| list.join(" "))
    }

    pub(crate) fn copy_timeout(&self) -> Duration {
        self.config.get_duration(
            "copy_timeout",
            doppel_plugin_api::parse_duration(DEFAULT_COPY_TIMEOUT)
                .unwrap_or(Duration::from_secs(10800)),
        )
    }

    /// `alt_disk_copy -d "<disks>" [-i] [-s] [-b] [-I] [-l] [-f] [-F] [-e] [-w] [-n]
    /// [-P<phase>] [-c] [-x] [-R] [-B] [-O] [-r] [-T]`, in the order of the syntax.
    pub(crate) fn copy_argv(&self, disks: &[String], phases: &Phases) -> Vec<String> {
        let mut a = vec![self.tool("alt_disk_copy"), "-d".into(), disks.join(" ")];
        let mut opt = |flag: &str, value: Option<String>| {
            if let Some(v) = value {
                a.push(flag.to_owned());
                a.push(v);
            }
        };
        opt("-i", self.config.get_text("image_data"));
        opt("-s", self.config.get_text("script"));
        opt("-b", self.config.get_text("bundle"));
        opt("-I", self.config.get_text("installp_flags"));
        opt("-l", self.config.get_text("images"));
        opt("-f", self.config.get_text("fix_bundle"));
        opt("-F", self.list_text("fixes"));
        opt("-e", self.config.get_text("exclude_list"));
        opt("-w", self.list_text("filesets"));
        if self.config.get_bool("remain_nim_client", false) {
            a.push("-n".into());
        }
        if let Some(p) = &phases.arg {
            a.push(format!("-P{p}"));
        }
        let mut opt = |flag: &str, value: Option<String>| {
            if let Some(v) = value {
                a.push(flag.to_owned());
                a.push(v);
            }
        };
        opt("-c", self.config.get_text("console"));
        opt("-x", self.config.get_text("first_boot_script"));
        opt("-R", self.config.get_text("resolv_conf"));
        if !self.config.get_bool("set_bootlist", false) {
            a.push("-B".into());
        }
        if self.config.get_bool("device_reset", false) {
            a.push("-O".into());
        }
        if self.config.get_bool("reboot", false) && phases.has(3) {
            a.push("-r".into());
        }
        if self.config.get_bool("jfs2", false) {
            a.push("-T".into());
        }
        a
    }

    /// Runs a read-only query and returns its stdout.
    pub(crate) fn query(&self, argv: Vec<String>) -> Result<String, Error> {
        let program = argv[0].rsplit('/').next().unwrap_or(&argv[0]).to_owned();
        let out = self
            .host
            .run(&CommandRequest::new(argv).read_only().timeout(QUERY_TIMEOUT))
            .map_err(|e| Error::failed(format!("cannot run {program}: {e}")))?;
        if out.timed_out {
            return Err(Error::failed(format!("{program} timed out")));
        }
        match out.exit_code {
            Some(0) => Ok(out.stdout),
            Some(code) => {
                let detail = out.last_line();
                Err(Error::failed(if detail.is_empty() {
                    format!("{program} exited with code {code}")
                } else {
                    format!("{program} exited with code {code}: {detail}")
                }))
            }
            None => Err(Error::failed(format!("{program} was killed"))),
        }
    }

    pub(crate) fn layout(&self) -> Result<Layout, Error> {
        let text = self.query(vec![self.tool("lspv")])?;
        Ok(Layout {
            pvs: parse_lspv(&text),
            targets: self.targets()?,
        })
    }

    pub(crate) fn bootlist(&self) -> Result<Vec<String>, Error> {
        let text = self.query(vec![
            self.tool("bootlist"),
            "-m".into(),
            "normal".into(),
            "-o".into(),
        ])?;
        Ok(parse_bootlist(&text))
    }

    pub(crate) fn remove_altinst(&self) -> Result<(), Error> {
        let argv = vec![self.tool("alt_rootvg_op"), "-X".into(), ALTINST.into()];
        self.host
            .run_checked(&CommandRequest::new(argv).timeout(OP_TIMEOUT))?;
        Ok(())
    }

    /// The phases this resource's clone completed, if the record is about the same disks.
    pub(crate) fn recorded_phases(&self, targets: &[String]) -> Option<BTreeSet<u8>> {
        let disks = self.host.state_get(KEY_DISKS)?;
        if disks.split_whitespace().collect::<Vec<_>>()
            != targets.iter().map(String::as_str).collect::<Vec<_>>()
        {
            return None;
        }
        let phases = self.host.state_get(KEY_PHASES)?;
        let set = phases_from_text(&phases);
        (!set.is_empty()).then_some(set)
    }

    pub(crate) fn recorded_clone_time(&self) -> Option<jiff::Timestamp> {
        self.host
            .state_get(KEY_CLONED_AT)
            .and_then(|t| t.trim().parse().ok())
    }

    pub(crate) fn forget(&self) -> Result<(), Error> {
        for key in [KEY_CLONED_AT, KEY_PHASES, KEY_DISKS] {
            self.host.state_put(key, "")?;
        }
        Ok(())
    }
}
