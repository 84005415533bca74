//! The MultiSite command lines: the tools' paths, the export, import and
//! lspacket invocations, with the environment and time limits of each.

use doppel_plugin_api::CommandRequest;

use crate::config::{Settings, Tool, Transport};
use crate::{DEFAULT_BIN, DEFAULT_ETC, OUT_SEQ, QUERY_TIMEOUT, Replica};

impl Replica {
    pub(crate) fn tool_path(&self, s: &Settings) -> String {
        let name = match s.tool {
            Tool::MultiTool => "multitool",
            Tool::MultiUtil => "multiutil",
        };
        self.config.tool_path("bin", DEFAULT_BIN, name)
    }

    pub(crate) fn shipping_server_path(&self) -> String {
        // shipping_server lives in MultiSite's etc directory, which defaults to bin's.
        let default = self
            .config
            .dir_option("bin")
            .unwrap_or_else(|| DEFAULT_ETC.to_owned());
        self.config.tool_path("etc", &default, "shipping_server")
    }

    pub(crate) fn request(&self, s: &Settings, argv: Vec<String>) -> CommandRequest {
        let mut r = CommandRequest::new(argv).timeout(s.timeout);
        for (k, v) in &s.env {
            r = r.env(k, v);
        }
        r
    }

    pub(crate) fn query(&self, s: &Settings, argv: Vec<String>) -> CommandRequest {
        let mut r = CommandRequest::new(argv).read_only().timeout(QUERY_TIMEOUT);
        for (k, v) in &s.env {
            r = r.env(k, v);
        }
        r
    }

    /// `-clan C -site S -family F -user U -password P` (multiutil), as much as is set.
    pub(crate) fn cq_args(&self, s: &Settings, with_site: bool) -> Vec<String> {
        let mut a = Vec::new();
        if s.tool != Tool::MultiUtil {
            return a;
        }
        if with_site {
            for (flag, v) in [("-clan", &s.clan), ("-site", &s.site)] {
                if let Some(v) = v {
                    a.push(flag.to_owned());
                    a.push(v.clone());
                }
            }
        }
        a.push("-family".into());
        a.push(s.vob.clone());
        for (flag, v) in [("-user", &s.user), ("-password", &s.password)] {
            if let Some(v) = v {
                a.push(flag.to_owned());
                a.push(v.clone());
            }
        }
        a
    }

    /// A target as the tool wants it: `<name>@<vob>` for multitool (unless it
    /// already names its VOB), the bare site name for multiutil.
    pub(crate) fn target_arg(&self, s: &Settings, t: &str) -> String {
        match s.tool {
            Tool::MultiUtil => t.to_owned(),
            Tool::MultiTool if t.contains('@') => t.to_owned(),
            Tool::MultiTool => format!("{t}@{}", s.vob),
        }
    }

    /// The `-out` pathname of the next export.
    pub(crate) fn out_pname(&self, s: &Settings, dir: &str) -> String {
        let seq = self
            .host
            .state_get(OUT_SEQ)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        let _ = self.host.state_put(OUT_SEQ, &seq.to_string());
        let who = s
            .local
            .clone()
            .unwrap_or_else(|| self.config.svcname.clone());
        let stamp = jiff::Zoned::now().strftime("%Y%m%d.%H%M%S");
        format!("{}/sync_{who}_{stamp}_{seq}", dir.trim_end_matches('/'))
    }

    pub(crate) fn export_argv(&self, s: &Settings) -> Vec<String> {
        let mut a = vec![self.tool_path(s), "syncreplica".into(), "-export".into()];
        a.extend(self.cq_args(s, true));
        if let Some(m) = &s.maxsize {
            a.extend(["-maxsize".into(), m.clone()]);
            if let Some(l) = s.limit {
                a.extend(["-limit".into(), l.to_string()]);
            }
        }
        if let Some(c) = &s.comment {
            a.extend(["-comment".into(), c.clone()]);
        }
        if let Some(m) = s.lockwait {
            a.extend(["-lockwait".into(), m.to_string()]);
        }
        if let Some(w) = &s.workdir {
            a.extend(["-workdir".into(), w.clone()]);
        }
        match s.transport {
            Transport::Fship | Transport::Ship => {
                a.push(
                    if s.transport == Transport::Fship {
                        "-fship"
                    } else {
                        "-ship"
                    }
                    .into(),
                );
                if let Some(c) = &s.sclass {
                    a.extend(["-sclass".into(), c.clone()]);
                }
            }
            Transport::Out => {
                let dir = s.out_dir.clone().unwrap_or_else(|| ".".into());
                a.extend(["-out".into(), self.out_pname(s, &dir)]);
            }
        }
        a.extend(s.targets.iter().map(|t| self.target_arg(s, t)));
        a
    }

    /// `syncreplica -import [-diagnose] { -receive [-sclass] | <incoming> | paths }`,
    /// as the VersionVault synopsis has it: the local import form takes no
    /// `-invob` (ClearCase's did). Which VOB a packet updates is in the packet;
    /// the caller names the files when the bay holds packets for other replicas.
    pub(crate) fn import_argv(
        &self,
        s: &Settings,
        diagnose: bool,
        paths: Option<&[String]>,
    ) -> Vec<String> {
        let mut a = vec![self.tool_path(s), "syncreplica".into(), "-import".into()];
        if diagnose {
            a.push("-diagnose".into());
        }
        if s.tool == Tool::MultiUtil {
            a.extend(self.cq_args(s, false));
        }
        match (paths, &s.incoming) {
            (Some(p), _) => a.extend(p.iter().cloned()),
            (None, Some(dir)) => a.push(dir.clone()),
            (None, None) => {
                a.push("-receive".into());
                if let Some(c) = &s.sclass {
                    a.extend(["-sclass".into(), c.clone()]);
                }
            }
        }
        a
    }

    pub(crate) fn lspacket_argv(&self, s: &Settings) -> Vec<String> {
        let mut a = vec![self.tool_path(s), "lspacket".into(), "-long".into()];
        if let Some(dir) = &s.incoming {
            a.push(dir.clone());
        }
        a
    }
}
