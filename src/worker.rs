//! The background worker: with `synapse_compress` in `shared_preload_libraries` and
//! `synapse_compress.worker_enabled` on, the database compresses itself.
//!
//! A launcher (a static worker, connected to no database, so it never blocks `DROP DATABASE` or
//! `CREATE DATABASE ... TEMPLATE`) wakes every second, reloads its settings on SIGHUP, and every
//! `synapse_compress.naptime` seconds starts a short-lived dynamic worker. That worker connects
//! to `synapse_compress.database` as `synapse_compress.worker_role` (never a superuser), runs up
//! to `worker_chunks` chunks of `worker_chunk_size` groups or until `worker_max_runtime` is used
//! up, each chunk in its own transaction (an error in a chunk is recorded and the run goes on
//! with the next room), and exits. SIGTERM (shutdown, `pg_terminate_backend`) stops either
//! within about a second; a dynamic worker stopped mid-chunk rolls back only that chunk. A
//! crashed launcher is restarted after 10 seconds.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BackgroundWorkerStatus, BgWorkerStartTime,
    DynamicBackgroundWorker, SignalWakeFlags,
};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::errors::Result;
use crate::{retry, settings};

const LIBRARY: &str = "synapse_compress";
const LAUNCHER: &str = "synapse_compress launcher";
const WORKER: &str = "synapse_compress worker";

/// Registers the launcher; called from `_PG_init` while `shared_preload_libraries` loads.
pub fn register_launcher() {
    BackgroundWorkerBuilder::new(LAUNCHER)
        .set_type(LAUNCHER)
        .set_library(LIBRARY)
        .set_function("synapse_compress_launcher_main")
        // to appear in pg_stat_activity it initialises a connection, to no database
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(10)))
        .load();
}

/// The launcher's loop: starts one dynamic worker per naptime while enabled.
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn synapse_compress_launcher_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    // Connected to no database (like PostgreSQL's logical replication launcher): visible in
    // pg_stat_activity, and never in the way of DROP DATABASE or CREATE DATABASE ... TEMPLATE.
    BackgroundWorker::connect_worker_to_spi(None, None);
    log!("synapse_compress: launcher started (worker_enabled = {})", settings::worker_enabled());
    let mut running: Option<DynamicBackgroundWorker> = None;
    let mut last_start: Option<Instant> = None;
    let mut said_no_role = false;
    while BackgroundWorker::wait_latch(Some(Duration::from_secs(1))) {
        if BackgroundWorker::sighup_received() {
            // SAFETY: the launcher's main loop, outside any transaction, as PostgreSQL's own
            // workers reload their configuration.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        if let Some(worker) = &running {
            if matches!(worker.pid(), Err(BackgroundWorkerStatus::Stopped)) {
                running = None;
            }
        }
        // the naptime in force now counts from the last start (a changed naptime applies at once)
        let naptime = Duration::from_secs(settings::naptime() as u64);
        let due = last_start.is_none_or(|t| t.elapsed() >= naptime);
        if running.is_some() || !settings::worker_enabled() || !due {
            continue;
        }
        if settings::worker_role().is_none() {
            if !said_no_role {
                warning!(
                    "synapse_compress: worker_enabled is on but synapse_compress.worker_role is not set; \
                     set it to the owner of Synapse's tables"
                );
                said_no_role = true;
            }
            continue;
        }
        said_no_role = false;
        last_start = Some(Instant::now());
        let started = BackgroundWorkerBuilder::new(WORKER)
            .set_type(WORKER)
            .set_library(LIBRARY)
            .set_function("synapse_compress_worker_main")
            .enable_spi_access()
            .set_restart_time(None)
            // SAFETY: reading this process's pid.
            .set_notify_pid(unsafe { pg_sys::MyProcPid })
            .load_dynamic();
        match started {
            Ok(worker) => running = Some(worker),
            Err(_) => warning!(
                "synapse_compress: could not start a worker: every background worker slot \
                 (max_worker_processes = {}) is in use; trying again in {} s",
                // SAFETY: reading a GUC variable of this process.
                unsafe { pg_sys::max_worker_processes },
                settings::naptime()
            ),
        }
    }
    log!("synapse_compress: launcher stopped");
}

unsafe extern "C-unwind" {
    /// PostgreSQL's SIGTERM handler for backends (`die` in postgres.c).
    #[link_name = "die"]
    fn postgres_die(signal: std::ffi::c_int);
}

/// One run of the dynamic worker.
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn synapse_compress_worker_main(_arg: pg_sys::Datum) {
    // SIGTERM ends the process at the next interrupt check (every few thousand rows), aborting
    // the open chunk's transaction, as for any backend.
    // SAFETY: installing PostgreSQL's own handler before signals are unblocked below.
    unsafe { pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(postgres_die)) };
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP);
    let database = settings::database();
    let Some(role) = settings::worker_role() else {
        warning!("synapse_compress: synapse_compress.worker_role is not set; the worker does nothing");
        return;
    };
    BackgroundWorker::connect_worker_to_spi(Some(&database), Some(&role));
    BackgroundWorker::transaction(|| {
        Spi::run("SET application_name = 'synapse_compress worker'").expect("a SET succeeds");
    });
    let superuser = BackgroundWorker::transaction(|| {
        Spi::get_one::<bool>("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user")
    });
    if superuser != Ok(Some(false)) {
        warning!(
            "synapse_compress: the worker does not run as a superuser: set synapse_compress.worker_role \
             to the owner of Synapse's tables (now {role})"
        );
        return;
    }
    let plan = RunPlan {
        chunk_size: settings::worker_chunk_size(),
        chunks: settings::worker_chunks(),
        deadline: Instant::now() + Duration::from_secs(settings::worker_max_runtime() as u64),
    };
    let run_id = BackgroundWorker::transaction(|| {
        Spi::get_one_with_args::<i64>(
            "SELECT synapse_compress.start_run(source => 'worker', chunk_size => $1, number_of_chunks => $2, \
             levels => '{100,50,25}', method => 'fork_aware', max_chain => NULL)",
            &[plan.chunk_size.into(), plan.chunks.into()],
        )
    });
    let run_id = match run_id {
        Ok(Some(id)) => id,
        other => {
            warning!("synapse_compress: the worker could not start a run: {other:?}");
            return;
        }
    };
    let done = plan.run(run_id);
    BackgroundWorker::transaction(|| {
        Spi::run_with_args("SELECT synapse_compress.finish_run($1)", &[run_id.into()])
            .expect("finish_run succeeds");
    });
    log!("synapse_compress: worker run {run_id} done: {done} chunk(s) in {database}");
}

/// Shows what the worker does in pg_stat_activity (`state` and `query`).
fn report_activity(state: pg_sys::BackendState::Type, room: &str) {
    let text = if room.is_empty() {
        String::new()
    } else {
        format!("synapse_compress worker: compress_room_chunk({})", crate::errors::show_room(room))
    };
    let text = std::ffi::CString::new(text.replace('\0', "")).unwrap_or_default();
    // SAFETY: the text is copied by PostgreSQL before this returns.
    unsafe { pg_sys::pgstat_report_activity(state, text.as_ptr()) };
}

/// How much one worker run does.
struct RunPlan {
    chunk_size: i32,
    chunks: i32,
    deadline: Instant,
}

impl RunPlan {
    /// Compresses chunks room after room; returns how many chunks it compressed.
    fn run(&self, run_id: i64) -> i32 {
        let rooms: Vec<String> = BackgroundWorker::transaction(|| {
            Spi::connect(|client| {
                client
                    .select("SELECT room_id FROM synapse_compress.rooms_to_compress()", None, &[])?
                    .map(|row| row.get::<String>(1).map(Option::unwrap_or_default))
                    .collect::<std::result::Result<Vec<String>, _>>()
            })
        })
        .unwrap_or_default();
        let mut done = 0;
        'rooms: for room in rooms {
            loop {
                if done >= self.chunks || Instant::now() >= self.deadline {
                    break 'rooms;
                }
                if BackgroundWorker::sighup_received() {
                    // SAFETY: between transactions, as the launcher does.
                    unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
                }
                report_activity(pg_sys::BackendState::STATE_RUNNING, &room);
                let outcome = BackgroundWorker::transaction(AssertUnwindSafe(|| {
                    Spi::connect_mut(|client| self.chunk(client, run_id, &room))
                }));
                report_activity(pg_sys::BackendState::STATE_IDLE, "");
                match outcome.as_deref() {
                    Some("compressed" | "unchanged" | "skipped") => done += 1,
                    _ => continue 'rooms,
                }
            }
        }
        done
    }

    /// One chunk in the current transaction; an error is recorded, and `None` moves on to the
    /// next room.
    fn chunk(&self, client: &mut SpiClient<'_>, run_id: i64, room: &str) -> Option<String> {
        let result: Result<Option<String>> = retry::in_subtransaction(|| {
            Ok(client
                .update(
                    "SELECT outcome FROM synapse_compress.compress_room_chunk(room_id => $1, chunk_size => $2, run_id => $3)",
                    Some(1),
                    &[room.into(), self.chunk_size.into(), run_id.into()],
                )?
                .first()
                .get_one::<String>()?)
        });
        match result {
            Ok(outcome) => outcome,
            Err(e) => {
                let (sqlstate, message) = e.sqlstate_and_message();
                let recorded = client.update(
                    "SELECT synapse_compress.record_chunk_error($1, $2, $3, $4)",
                    None,
                    &[run_id.into(), room.into(), sqlstate.as_str().into(), message.as_str().into()],
                );
                if let Err(e) = recorded {
                    warning!("synapse_compress: could not record an error: {e}");
                }
                None
            }
        }
    }
}
