//! Routes the `log` crate into PostgreSQL's own log (never to the client).

use pgrx::prelude::*;

struct PgLogger;

impl log::Log for PgLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let text = format!("synapse_compress: {}", record.args());
        match record.level() {
            log::Level::Error | log::Level::Warn => warning!("{text}"),
            log::Level::Info => pgrx::log!("{text}"),
            log::Level::Debug => debug1!("{text}"),
            log::Level::Trace => debug2!("{text}"),
        }
    }

    fn flush(&self) {}
}

static LOGGER: PgLogger = PgLogger;

pub fn install() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}
