//! Running a resource's commands on another host through OpenSSH (`ssh = <destination>`).
//!
//! The command is wrapped into one `ssh` invocation: strict options (BatchMode,
//! StrictHostKeyChecking), the node config's `[ssh]` table, a shared connection
//! per destination (ControlMaster under the state directory), and the argv quoted
//! for the remote POSIX shell so that it arrives intact.

use std::path::PathBuf;

use doppel_core::node::SshConfig;
use doppel_plugin_api::{CommandOutput, CommandRequest, Error};

/// Where and how one resource's commands run remotely.
#[derive(Clone, Debug)]
pub struct SshTarget {
    /// What `ssh` accepts: `user@host`, `host`, `ssh://user@host:port`.
    pub destination: String,
    /// The node config's `[ssh]` table.
    pub config: SshConfig,
    /// ControlPath directory (`var/lib/doppel/ssh` under the root).
    pub control_dir: PathBuf,
}

impl SshTarget {
    /// The `ssh ... -- <destination> <quoted command>` request running `request` remotely.
    pub fn wrap(&self, request: &CommandRequest) -> Result<CommandRequest, Error> {
        let mut argv: Vec<String> = vec!["ssh".into()];
        let mut opt = |o: String| {
            argv.push("-o".into());
            argv.push(o);
        };
        opt("BatchMode=yes".into());
        opt("StrictHostKeyChecking=yes".into());
        opt("ControlMaster=auto".into());
        opt(format!("ControlPath={}/%C", self.control_dir.display()));
        opt("ControlPersist=10s".into());
        if let Some(t) = &self.config.connect_timeout {
            let secs = doppel_core::convert::to_duration_secs(t)
                .map_err(|e| Error::invalid(format!("[ssh] connect_timeout: {e}")))?;
            opt(format!("ConnectTimeout={secs}"));
        }
        if let Some(k) = &self.config.known_hosts {
            opt(format!("UserKnownHostsFile={}", k.display()));
        }
        for o in &self.config.options {
            opt(o.clone());
        }
        if let Some(i) = &self.config.identity {
            argv.push("-i".into());
            argv.push(i.display().to_string());
        }
        argv.push("--".into());
        argv.push(self.destination.clone());
        argv.push(remote_line(request)?);
        let mut wrapped = request.clone();
        wrapped.argv = argv;
        // The environment goes to the remote command (in the line), not to ssh.
        wrapped.env = Default::default();
        wrapped.cwd = None;
        Ok(wrapped)
    }

    /// ssh's own failure (exit 255) as one line naming the destination; other
    /// outputs unchanged (the tool's exit code and stderr).
    pub fn check(&self, output: CommandOutput) -> Result<CommandOutput, Error> {
        if output.exit_code == Some(255) {
            let why = output
                .stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("exit 255")
                .trim()
                .trim_end_matches('\r');
            return Err(Error::failed(format!(
                "ssh to {} failed: {why}",
                self.destination
            )));
        }
        Ok(output)
    }
}

/// The command line the remote shell runs: `cd <cwd> && env K=V ... argv...`,
/// every word quoted.
pub fn remote_line(request: &CommandRequest) -> Result<String, Error> {
    let quote = |w: &str| {
        shlex::try_quote(w)
            .map(|q| q.into_owned())
            .map_err(|e| Error::invalid(format!("cannot quote {w:?} for the remote shell: {e}")))
    };
    let mut words = Vec::new();
    if !request.env.is_empty() {
        words.push("env".to_owned());
        for (k, v) in &request.env {
            words.push(quote(&format!("{k}={v}"))?);
        }
    }
    for w in &request.argv {
        words.push(quote(w)?);
    }
    let line = words.join(" ");
    Ok(match &request.cwd {
        Some(dir) => format!("cd {} && {line}", quote(&dir.display().to_string())?),
        None => line,
    })
}
