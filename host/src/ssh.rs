//! Running a resource's commands on another host through OpenSSH (`ssh = <destination>`).
//!
//! The command is wrapped into one `ssh` invocation: strict options (BatchMode,
//! StrictHostKeyChecking), the node config's `[ssh]` table, a shared connection
//! per destination (ControlMaster under the state directory), and the argv quoted
//! for the remote POSIX shell so that it arrives intact.

use std::path::{Path, PathBuf};

use doppel_core::node::SshConfig;
use doppel_plugin_api::{CommandOutput, CommandRequest, Error, FileChunk};

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

/// The remote side of a command run without input: the command runs in the
/// background with its input from /dev/null, and a watcher reads the session's
/// input. When doppel ends the session (a time limit, Ctrl-C, doppel killed),
/// the input closes and the watcher kills the command: sshd sends no signal to
/// a command without a terminal, and `ssh -tt` would mangle output and input.
/// `$1` is the directory to run in (empty: the login directory), the rest the
/// command. The session's input is kept as fd 3 because a background list of
/// a non-interactive shell reads /dev/null.
const WATCHED: &str = "d=$1; shift; if [ -n \"$d\" ]; then cd \"$d\" || exit 1; fi; \
exec 3<&0; \"$@\" </dev/null 3<&- & c=$!; \
(cat <&3 >/dev/null 2>&1; kill -TERM $c 2>/dev/null; sleep 5; kill -KILL $c 2>/dev/null) >/dev/null 2>&1 & \
w=$!; exec 3<&-; wait $c; r=$?; kill $w 2>/dev/null; exit $r";

/// Exit code of the remote read script when the file does not exist.
const NO_SUCH_FILE: i32 = 44;

/// Reads `$1` from byte `$2` on: first line `<inode> <size>`, then the text.
const READ_FROM: &str = "p=$1; o=$2; [ -e \"$p\" ] || exit 44; \
i=$(ls -id -- \"$p\") || exit 1; s=$(wc -c < \"$p\") || exit 1; set -- $i; \
echo \"$1 $s\"; if [ \"$o\" -lt \"$s\" ]; then exec tail -c +$((o + 1)) -- \"$p\"; fi";

/// Replaces `$1` with the input: its directory created, a temporary file and a rename.
const WRITE_ATOMIC: &str = "mkdir -p -- \"$(dirname -- \"$1\")\" && t=\"$1.doppel.$$\" && \
if cat > \"$t\" && mv -f -- \"$t\" \"$1\"; then exit 0; fi; rm -f -- \"$t\"; exit 1";

/// A command wrapped to run on the destination.
pub struct Remote {
    /// The local `ssh` invocation.
    pub request: CommandRequest,
    /// What the log and `--dry-run` show: `ssh <options> -- <destination> <argv>`.
    pub shown: String,
    /// Keep the command's input open while it runs (the watcher's end-of-session
    /// signal); false when the command reads the request's input.
    pub hold_stdin: bool,
}

impl SshTarget {
    /// The `ssh ... -- <destination> <quoted command>` request running `request`
    /// remotely: argv, environment and directory intact.
    pub fn wrap(&self, request: &CommandRequest) -> Result<Remote, Error> {
        let options = self.options()?;
        let shown = {
            let mut argv = options.clone();
            argv.push(remote_line(request)?);
            CommandRequest::new(argv).display()
        };
        let line = if request.stdin.is_some() {
            // The command reads the input: no watcher (only short file writes do).
            remote_line(request)?
        } else {
            let mut words = vec![
                "sh".to_owned(),
                "-c".to_owned(),
                WATCHED.to_owned(),
                "doppel".to_owned(),
                request
                    .cwd
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
            ];
            words.extend(env_words(request));
            words.extend(request.argv.iter().cloned());
            quote_all(&words)?
        };
        let mut argv = options;
        argv.push(line);
        let mut wrapped = request.clone();
        wrapped.argv = argv;
        // The environment and directory go to the remote command (in the line),
        // not to the local ssh.
        wrapped.env = Default::default();
        wrapped.cwd = None;
        Ok(Remote {
            request: wrapped,
            shown,
            hold_stdin: request.stdin.is_none(),
        })
    }

    /// `ssh <options> -- <destination>`: strict options first, then the node
    /// config's `[ssh]` table.
    fn options(&self) -> Result<Vec<String>, Error> {
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
        Ok(argv)
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

    /// The remote command reading `path` from `offset` on (see [`READ_FROM`]).
    pub fn read_request(path: &Path, offset: u64) -> CommandRequest {
        CommandRequest::new([
            "sh".to_owned(),
            "-c".to_owned(),
            READ_FROM.to_owned(),
            "doppel".to_owned(),
            path.display().to_string(),
            // Shell arithmetic is 64-bit signed: "from the end" is any offset past it.
            offset.min(1 << 53).to_string(),
        ])
        .read_only()
        .timeout(FILE_TIMEOUT)
    }

    /// What [`SshTarget::read_request`] printed, as a file chunk (`None`: no
    /// such file).
    pub fn read_answer(
        &self,
        path: &Path,
        output: &CommandOutput,
    ) -> Result<Option<FileChunk>, Error> {
        match output.exit_code {
            Some(0) => {}
            Some(NO_SUCH_FILE) => return Ok(None),
            _ => return Err(self.file_error("read", path, output)),
        }
        let (head, text) = output
            .stdout
            .split_once('\n')
            .unwrap_or((&output.stdout, ""));
        let mut fields = head.split_whitespace();
        let id = fields.next().unwrap_or_default().to_owned();
        let size = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok(Some(FileChunk::new(id, size, text)))
    }

    /// The remote command replacing `path` with `text` (atomically, or in place).
    pub fn write_request(path: &Path, text: &str, atomic: bool) -> CommandRequest {
        let script = if atomic { WRITE_ATOMIC } else { "cat > \"$1\"" };
        let mut request = CommandRequest::new([
            "sh".to_owned(),
            "-c".to_owned(),
            script.to_owned(),
            "doppel".to_owned(),
            path.display().to_string(),
        ])
        .timeout(FILE_TIMEOUT)
        .stdin(text);
        request.quiet = true;
        request
    }

    /// A failed remote file read or write as one line.
    pub fn file_error(&self, what: &str, path: &Path, output: &CommandOutput) -> Error {
        let why = output
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(str::trim)
            .unwrap_or(if output.timed_out {
                "timed out"
            } else {
                "failed"
            });
        Error::failed(format!(
            "cannot {what} {} on {}: {why}",
            path.display(),
            self.destination
        ))
    }
}

/// How long a remote file read or write may take.
const FILE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

fn env_words(request: &CommandRequest) -> Vec<String> {
    if request.env.is_empty() {
        return Vec::new();
    }
    let mut words = vec!["env".to_owned()];
    words.extend(request.env.iter().map(|(k, v)| format!("{k}={v}")));
    words
}

fn quote_all(words: &[String]) -> Result<String, Error> {
    let quoted: Result<Vec<String>, Error> = words
        .iter()
        .map(|w| {
            shlex::try_quote(w).map(|q| q.into_owned()).map_err(|e| {
                Error::invalid(format!("cannot quote {w:?} for the remote shell: {e}"))
            })
        })
        .collect();
    Ok(quoted?.join(" "))
}

/// The command line the remote shell runs: `cd <cwd> && env K=V ... argv...`,
/// every word quoted.
pub fn remote_line(request: &CommandRequest) -> Result<String, Error> {
    let mut words = env_words(request);
    words.extend(request.argv.iter().cloned());
    let line = quote_all(&words)?;
    Ok(match &request.cwd {
        Some(dir) => format!("cd {} && {line}", quote_all(&[dir.display().to_string()])?),
        None => line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::process::{Command, Stdio};

    fn target() -> SshTarget {
        SshTarget {
            destination: "root@hpux01".into(),
            config: SshConfig::default(),
            control_dir: PathBuf::from("/var/lib/doppel/.ssh"),
        }
    }

    /// Runs the remote line as sshd does (`sh -c <line>`), its input held open.
    fn run_remote_line(line: &str) -> String {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(line)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        child.wait().unwrap();
        out
    }

    #[test]
    fn argv_env_and_directory_arrive_intact_through_the_remote_shell() {
        let words = [
            "a b",
            "it's",
            "$HOME;ls",
            "line1\nline2",
            "*",
            "\"q\"",
            "back\\slash",
            "",
        ];
        let mut argv = vec!["sh", "-c", "pwd; echo \"$K\"; printf '[%s]\\n' \"$@\"", "x"];
        argv.extend(words);
        let mut request = CommandRequest::new(argv).env("K", "v w $x");
        request.cwd = Some(PathBuf::from("/"));
        let remote = target().wrap(&request).unwrap();
        let line = remote.request.argv.last().unwrap();
        let want: String = std::iter::once("/\nv w $x\n".to_owned())
            .chain(words.iter().map(|w| format!("[{w}]\n")))
            .collect();
        assert_eq!(run_remote_line(line), want);
        assert!(remote.hold_stdin);
        assert!(remote.request.env.is_empty() && remote.request.cwd.is_none());
    }

    #[test]
    fn the_shown_line_is_ssh_options_destination_and_the_plain_command() {
        let remote = target()
            .wrap(&CommandRequest::new([
                "/opt/drd/bin/drd",
                "clone",
                "-t",
                "/dev/disk/disk 2",
            ]))
            .unwrap();
        assert!(
            remote
                .shown
                .starts_with("ssh -o BatchMode=yes -o StrictHostKeyChecking=yes ")
        );
        assert!(
            remote
                .shown
                .ends_with("-- root@hpux01 '/opt/drd/bin/drd clone -t '\\''/dev/disk/disk 2'\\'''"),
            "{}",
            remote.shown
        );
    }

    #[test]
    fn ssh_failure_is_told_apart_from_the_tool_failure() {
        let t = target();
        let ssh = CommandOutput::exited(
            255,
            "",
            "ssh: connect to host hpux01 port 22: Connection refused\r\n",
        );
        assert_eq!(
            t.check(ssh).unwrap_err().message,
            "ssh to root@hpux01 failed: ssh: connect to host hpux01 port 22: Connection refused"
        );
        let tool = CommandOutput::exited(3, "", "disk busy");
        assert_eq!(t.check(tool).unwrap().exit_code, Some(3));
    }

    #[test]
    fn remote_file_answers_are_read_back() {
        let t = target();
        let path = Path::new("/var/adm/ras/alt_mig/lpar1_alt_mig.log");
        let out = CommandOutput::exited(0, "1234 20\nphase 2\n", "");
        let chunk = t.read_answer(path, &out).unwrap().unwrap();
        assert_eq!(chunk, FileChunk::new("1234", 20, "phase 2\n"));
        let missing = CommandOutput::exited(NO_SUCH_FILE, "", "");
        assert_eq!(t.read_answer(path, &missing).unwrap(), None);
        let denied = CommandOutput::exited(1, "", "tail: cannot open: Permission denied");
        assert_eq!(
            t.read_answer(path, &denied).unwrap_err().message,
            "cannot read /var/adm/ras/alt_mig/lpar1_alt_mig.log on root@hpux01: tail: cannot open: Permission denied"
        );
    }

    #[test]
    fn the_read_and_write_scripts_work_in_a_posix_shell() {
        let dir = std::env::temp_dir().join(format!("doppel-ssh-scripts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("sub/list");
        let write = SshTarget::write_request(&path, "a\nb\n", true);
        let status = Command::new(&write.argv[0])
            .args(&write.argv[1..])
            .stdin(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(b"a\nb\n")?;
                c.wait()
            })
            .unwrap();
        assert!(status.success());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
        let read = SshTarget::read_request(&path, 2);
        let out = Command::new(&read.argv[0])
            .args(&read.argv[1..])
            .output()
            .unwrap();
        let out = CommandOutput::exited(
            out.status.code().unwrap(),
            &String::from_utf8_lossy(&out.stdout),
            &String::from_utf8_lossy(&out.stderr),
        );
        let chunk = target().read_answer(&path, &out).unwrap().unwrap();
        assert_eq!((chunk.size, chunk.text.as_str()), (4, "b\n"));
        let past = SshTarget::read_request(&path, u64::MAX);
        let out = Command::new(&past.argv[0])
            .args(&past.argv[1..])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
