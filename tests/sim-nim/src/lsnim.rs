//! `lsnim -l <client>`: a NIM client's attributes as the master keeps them.
//! What matters to doppel is what NIM leaves after an alt_disk_mig operation:
//! `Cstate` (an operation is being performed, or the client is ready) and
//! `Cstate_result` (`success` / `failure` of the last operation; absent when
//! the nimadm process died before it could say).

use doppel_sim::common::{SimError, SimResult, err, out};

use crate::model::{client_busy, read_db};

pub fn main(args: Vec<String>) -> i32 {
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            err(&format!("{}\n", e.message));
            e.code
        }
    }
}

fn run(args: &[String]) -> SimResult<i32> {
    let name = match args {
        [flag, name] if flag == "-l" => name,
        _ => {
            return Err(SimError::new(
                1,
                "usage: lsnim -l <client> (only the long listing of one client is simulated)",
            ));
        }
    };
    let db = read_db()?;
    let c = db.client(name).map_err(|_| {
        SimError::new(
            1,
            format!("0042-053 lsnim: there is no NIM object named \"{name}\""),
        )
    })?;
    let last = c.runs.last();
    let busy = client_busy(name).is_some();
    // A nimadm that died mid-operation leaves Cstate as it was: NIM is never told.
    let stuck = last.is_some_and(|r| r.end.is_none());
    let performing = "alt_disk_mig operation is being performed";
    let cstate = if busy || stuck {
        performing
    } else {
        "ready for a NIM operation"
    };
    let mut text = format!(
        "{name}:\n   class          = machines\n   type           = standalone\n   platform       = chrp\n   \
         netboot_kernel = 64\n   Cstate         = {cstate}\n"
    );
    if last.is_some() && cstate != performing {
        text.push_str(&format!("   prev_state     = {performing}\n"));
    }
    text.push_str("   Mstate         = currently running\n");
    if let Some(result) = last.and_then(|r| r.result.as_deref()) {
        let result = if result == "ok" { "success" } else { "failure" };
        text.push_str(&format!("   Cstate_result  = {result}\n"));
    }
    text.push_str(&format!("   oslevel        = {}\n", c.level));
    out(&text);
    Ok(0)
}
