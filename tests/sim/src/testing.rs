//! For the simulators' own integration tests: what a simulator run printed and
//! returned, and the checks every harness makes on it.

use std::process::{Command, Output};

/// The exit code (-1 when killed by a signal) and output of one run.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Out {
    fn from(o: Output) -> Out {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Out {
    /// Runs `cmd` to completion, capturing its output.
    #[track_caller]
    pub fn of(cmd: &mut Command) -> Out {
        cmd.output().expect("run the simulator").into()
    }

    /// stdout then stderr.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Asserts exit 0.
    #[track_caller]
    pub fn ok(self) -> Out {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts a non-zero exit that is not a simulator bug.
    #[track_caller]
    pub fn fails(self) -> Out {
        assert_ne!(
            self.code, 0,
            "expected a failure\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.no_panic();
        self
    }

    /// Asserts exit `code`, not by a simulator bug.
    #[track_caller]
    pub fn fails_with(self, code: i32) -> Out {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.no_panic();
        self
    }

    /// Asserts the output shows no panic (see [`crate::common::run_main`]).
    #[track_caller]
    pub fn no_panic(&self) {
        let all = self.all();
        assert!(
            !all.contains("panicked") && !all.contains("internal simulator error"),
            "simulator bug: {all}"
        );
    }
}
