//! The engine's log lines in the window: while a job runs on the worker thread, a
//! subscriber that passes everything on to the one admu installed (stderr, `--log-file`,
//! the Windows log) and also hands each event at INFO or above to the window.
//!
//! Nothing secret reaches the log: the engine logs no password (its `Secret` prints as
//! `<secret>`), and the window logs nothing it was typed.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Level, Metadata, Subscriber};

/// One line of the log view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    pub text: String,
}

/// The log view's lines also go to a file, for Open log (opened on the first line).
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: Option<File>,
}

impl LogFile {
    pub fn new(path: PathBuf) -> Self {
        LogFile { path, file: None }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&mut self, line: &LogLine) {
        if self.file.is_none() {
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .ok();
        }
        if let Some(f) = &mut self.file {
            let _ = writeln!(f, "{:>5} {}", line.level, line.text);
        }
    }
}

/// The subscriber of a job: `inner` gets everything, `sink` the events at INFO and up.
pub struct Tee<F: Fn(LogLine) + Send + Sync + 'static> {
    inner: Dispatch,
    sink: F,
    hint: LevelFilter,
}

impl<F: Fn(LogLine) + Send + Sync + 'static> Tee<F> {
    /// Passes on to the dispatcher current on this thread (admu's global one).
    pub fn new(sink: F) -> Self {
        let inner = tracing::dispatcher::get_default(Dispatch::clone);
        Tee {
            inner,
            sink,
            hint: LevelFilter::current().max(LevelFilter::INFO),
        }
    }

    fn captured(meta: &Metadata<'_>) -> bool {
        meta.is_event() && *meta.level() <= Level::INFO
    }
}

impl<F: Fn(LogLine) + Send + Sync + 'static> Subscriber for Tee<F> {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        let inner = self.inner.register_callsite(meta);
        if Self::captured(meta) && !inner.is_always() {
            Interest::sometimes()
        } else {
            inner
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        Self::captured(meta) || self.inner.enabled(meta)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.hint)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.inner.new_span(span)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        self.inner.record(span, values);
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.inner.record_follows_from(span, follows);
    }

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        if self.inner.enabled(meta) {
            self.inner.event(event);
        }
        if Self::captured(meta) {
            (self.sink)(LogLine {
                level: *meta.level(),
                text: line(event),
            });
        }
    }

    fn enter(&self, span: &Id) {
        self.inner.enter(span);
    }

    fn exit(&self, span: &Id) {
        self.inner.exit(span);
    }

    fn clone_span(&self, id: &Id) -> Id {
        self.inner.clone_span(id)
    }

    fn try_close(&self, id: Id) -> bool {
        self.inner.try_close(id)
    }
}

/// "message key=value …", as admu's human log lines read.
fn line(event: &Event<'_>) -> String {
    struct Fields {
        message: String,
        rest: String,
    }
    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                let _ = write!(self.message, "{value:?}");
            } else {
                let _ = write!(self.rest, " {}={value:?}", field.name());
            }
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "message" {
                self.message.push_str(value);
            } else {
                let _ = write!(self.rest, " {}={value}", field.name());
            }
        }
    }
    let mut f = Fields {
        message: String::new(),
        rest: String::new(),
    };
    event.record(&mut f);
    f.message + &f.rest
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn events_reach_the_sink_with_their_fields() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let lines = lines.clone();
            move |l: LogLine| lines.lock().expect("lock").push(l)
        };
        tracing::subscriber::with_default(Tee::new(sink), || {
            tracing::warn!(step = "tree", "cannot read {}", "x");
            tracing::debug!("not captured");
        });
        let lines = lines.lock().expect("lock");
        assert_eq!(
            *lines,
            vec![LogLine {
                level: Level::WARN,
                text: "cannot read x step=tree".into()
            }]
        );
    }
}
