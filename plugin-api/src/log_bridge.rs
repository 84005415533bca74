//! Forwards a driver's `tracing` events to the host's log callback.
//!
//! A driver library has its own copy of `tracing`, so the host's subscriber never
//! sees its events. The export glue installs [`Bridge`] as the driver's global
//! subscriber; each event goes to the host of the resource whose call is running
//! on this thread (set by the glue), or to the most recently opened resource's host
//! for threads the driver spawned itself.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, Once};

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Interest, Metadata, Subscriber};

use crate::{HostServices, Level};

thread_local! {
    static CURRENT: RefCell<Option<Arc<dyn HostServices>>> = const { RefCell::new(None) };
}

static FALLBACK: Mutex<Option<Arc<dyn HostServices>>> = Mutex::new(None);

/// Installs the bridge once per driver library.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing::subscriber::set_global_default(Bridge);
    });
}

/// Remembers `host` as the fallback destination for threads with no current call.
pub(crate) fn set_fallback(host: Arc<dyn HostServices>) {
    if let Ok(mut slot) = FALLBACK.lock() {
        *slot = Some(host);
    }
}

/// Runs `f` with `host` as this thread's log destination.
pub(crate) fn with_current<T>(host: Arc<dyn HostServices>, f: impl FnOnce() -> T) -> T {
    let previous = CURRENT.with(|c| c.replace(Some(host)));
    let result = f();
    CURRENT.with(|c| *c.borrow_mut() = previous);
    result
}

fn destination() -> Option<Arc<dyn HostServices>> {
    CURRENT
        .with(|c| c.borrow().clone())
        .or_else(|| FALLBACK.lock().ok().and_then(|s| s.clone()))
}

struct Bridge;

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={:?}", field.name(), value);
        }
    }
}

impl Subscriber for Bridge {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let Some(host) = destination() else { return };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = match *event.metadata().level() {
            tracing_core::Level::ERROR => Level::Error,
            tracing_core::Level::WARN => Level::Warn,
            tracing_core::Level::INFO => Level::Info,
            tracing_core::Level::DEBUG => Level::Debug,
            tracing_core::Level::TRACE => Level::Trace,
        };
        host.log(level, &format!("{}{}", fields.message, fields.rest));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
