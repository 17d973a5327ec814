//! The engine on a thread of its own, so that the window never waits for it: jobs go in
//! through one channel, replies (results, progress events, log lines) come back through
//! another, and each reply asks the window to repaint.
//!
//! One thread runs the jobs in order, so two engine calls never overlap on a volume.
//! A check waiting behind a newer check is dropped: only the form as it is now matters.
//! Each job opens the host afresh (the hosts cache hives), as each CLI command does.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};

use eframe::egui;
use engine::machine::{MachineInfo, machine_info};
use engine::migrate::{
    self, Check, MigrateError, MigrateRequest, Plan, ProgressEvent, ProgressSink, Status,
    Unfinished,
};
use engine::profiles::{DiscoverOptions, Profile, discover};

use crate::capture::{LogLine, Tee};

/// A migration as the form describes it: the engine's request, and the JumpCloud
/// settings the worker turns into its device manager on the machine it opens.
#[derive(Debug)]
pub struct Submission {
    pub request: MigrateRequest,
    pub jumpcloud: Option<jumpcloud::manager::ManagerSettings>,
}

impl Submission {
    /// The request with its device manager (JumpCloud's, opened as the CLI opens it).
    fn prepare(self, host: &dyn engine::host::MigrationHost) -> Result<MigrateRequest, String> {
        let mut request = self.request;
        if let Some(settings) = self.jumpcloud {
            let manager = settings.open(host, host.live().is_none())?;
            request.device = Some(Arc::new(manager));
        }
        Ok(request)
    }
}

/// What the window asks of the engine.
#[derive(Debug)]
pub enum Job {
    /// The machine, its profiles (with sizes when asked) and admu's journals.
    Load {
        sizes: bool,
    },
    /// Every preflight check of the form as it was at `generation`.
    Check {
        generation: u64,
        request: Box<Submission>,
    },
    /// The dry run of the form as it was at `generation`.
    Plan {
        generation: u64,
        request: Box<Submission>,
    },
    Migrate {
        request: Box<Submission>,
    },
    /// Undo the committed migration to this account (name or SID).
    Revert {
        account: String,
    },
    Recover,
}

/// Which long job a progress view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Migrate,
    Revert,
    Recover,
}

impl RunKind {
    pub fn title(self) -> &'static str {
        match self {
            RunKind::Migrate => "Migration",
            RunKind::Revert => "Revert",
            RunKind::Recover => "Recover",
        }
    }
}

/// What `Load` found; each part fails on its own, as in `admu info` and `admu list`.
#[derive(Debug)]
pub struct Loaded {
    /// "offline volume /mnt/win", "this computer", from the host.
    pub describe: String,
    pub live: bool,
    pub machine: Result<MachineInfo, String>,
    pub profiles: Result<Vec<Profile>, String>,
    pub journals: Result<Vec<Unfinished>, String>,
    pub sizes: bool,
}

/// How a long job ended: its report, or the error as the CLI prints it.
#[derive(Debug, Clone)]
pub struct Finished {
    pub ok: bool,
    pub lines: Vec<String>,
    /// The checks, when a migration stopped at its own preflight.
    pub checks: Vec<Check>,
}

#[derive(Debug)]
pub enum Reply {
    /// `Err`: the host could not be opened (the CLI's text).
    Loaded(Box<Result<Loaded, String>>),
    Checked {
        generation: u64,
        result: Result<Vec<Check>, String>,
    },
    Planned {
        generation: u64,
        result: Box<Result<Plan, String>>,
    },
    Progress(ProgressEvent),
    Log(LogLine),
    Finished {
        run: RunKind,
        finished: Finished,
    },
}

/// The window's end of the worker.
#[derive(Debug)]
pub struct Worker {
    jobs: Sender<Job>,
    pub replies: Receiver<Reply>,
    /// The window's context, to wake it when a reply comes (known from its first frame).
    ctx: Arc<OnceLock<egui::Context>>,
}

impl Worker {
    /// Starts the thread. It ends when the window (the job sender) goes away; a job
    /// running then is cut off with the process, and its journal is `recover`'s.
    pub fn spawn(root: Option<PathBuf>) -> Worker {
        let (jobs, job_rx) = channel::<Job>();
        let (reply_tx, replies) = channel::<Reply>();
        let ctx = Arc::new(OnceLock::<egui::Context>::new());
        let wake = ctx.clone();
        let send = Arc::new(move |r: Reply| {
            // The window may be gone; then nobody listens.
            let _ = reply_tx.send(r);
            if let Some(ctx) = wake.get() {
                ctx.request_repaint();
            }
        });
        std::thread::Builder::new()
            .name("admu-engine".into())
            .spawn(move || run(root, job_rx, send))
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!("cannot start the engine thread: {e}"));
        Worker { jobs, replies, ctx }
    }

    /// The window to wake for each reply.
    pub fn attach(&self, ctx: &egui::Context) {
        if self.ctx.get().is_none() {
            let _ = self.ctx.set(ctx.clone());
        }
    }

    pub fn send(&self, job: Job) {
        if self.jobs.send(job).is_err() {
            tracing::error!("the engine thread has stopped");
        }
    }
}

type Replier = Arc<dyn Fn(Reply) + Send + Sync>;

fn run(root: Option<PathBuf>, jobs: Receiver<Job>, send: Replier) {
    let mut queue = VecDeque::new();
    loop {
        if queue.is_empty() {
            match jobs.recv() {
                Ok(job) => queue.push_back(job),
                Err(_) => return,
            }
        }
        queue.extend(jobs.try_iter());
        let Some(job) = queue.pop_front() else {
            continue;
        };
        let superseded = matches!(job, Job::Check { .. })
            && queue.iter().any(|j| matches!(j, Job::Check { .. }));
        if superseded {
            continue;
        }
        let log = {
            let send = send.clone();
            move |line: LogLine| send(Reply::Log(line))
        };
        let dispatch = tracing::Dispatch::new(Tee::new(log));
        let answer = Answer::of(&job);
        let done = tracing::dispatcher::with_default(&dispatch, || {
            std::panic::catch_unwind(AssertUnwindSafe(|| do_job(root.as_deref(), job, &send)))
        });
        if done.is_err() {
            // A bug in the engine: the window must not wait for an answer forever.
            answer.panicked(&send);
        }
    }
}

/// The reply a job owes the window, for when the job panicked.
enum Answer {
    Loaded,
    Checked(u64),
    Planned(u64),
    Finished(RunKind),
}

impl Answer {
    fn of(job: &Job) -> Answer {
        match job {
            Job::Load { .. } => Answer::Loaded,
            Job::Check { generation, .. } => Answer::Checked(*generation),
            Job::Plan { generation, .. } => Answer::Planned(*generation),
            Job::Migrate { .. } => Answer::Finished(RunKind::Migrate),
            Job::Revert { .. } => Answer::Finished(RunKind::Revert),
            Job::Recover => Answer::Finished(RunKind::Recover),
        }
    }

    fn panicked(self, send: &Replier) {
        let text = "the engine stopped on an internal error (a bug; the log has it); a \
                    migration, revert or recover it was running is journaled: Recover \
                    rolls it back"
            .to_string();
        send(match self {
            Answer::Loaded => Reply::Loaded(Box::new(Err(text))),
            Answer::Checked(generation) => Reply::Checked {
                generation,
                result: Err(text),
            },
            Answer::Planned(generation) => Reply::Planned {
                generation,
                result: Box::new(Err(text)),
            },
            Answer::Finished(run) => Reply::Finished {
                run,
                finished: Finished {
                    ok: false,
                    lines: vec![text],
                    checks: Vec::new(),
                },
            },
        });
    }
}

fn shown(e: impl Into<anyhow::Error>) -> String {
    format!("{:#}", e.into())
}

fn do_job(root: Option<&std::path::Path>, job: Job, send: &Replier) {
    let host = crate::open_host(root).map_err(|e| e.to_string());
    match job {
        Job::Load { sizes } => send(Reply::Loaded(Box::new(host.map(|h| load(&*h, sizes))))),
        Job::Check {
            generation,
            request,
        } => {
            let result = host.and_then(|h| {
                let request = request.prepare(&*h)?;
                migrate::preflight(&*h, &request)
                    .map(|p| p.checks)
                    .map_err(shown)
            });
            send(Reply::Checked { generation, result });
        }
        Job::Plan {
            generation,
            request,
        } => {
            let result = host.and_then(|h| {
                let request = request.prepare(&*h)?;
                migrate::plan(&*h, &request).map_err(shown)
            });
            send(Reply::Planned {
                generation,
                result: Box::new(result),
            });
        }
        Job::Migrate { request } => {
            let progress = send.clone();
            let finished = match host.and_then(|h| request.prepare(&*h).map(|r| (h, r))) {
                Ok((mut h, mut request)) => {
                    request.progress = Some(ProgressSink(Arc::new(move |e: &ProgressEvent| {
                        progress(Reply::Progress(e.clone()))
                    })));
                    run_migrate(&mut *h, &request)
                }
                Err(e) => failed(e),
            };
            send(Reply::Finished {
                run: RunKind::Migrate,
                finished,
            });
        }
        Job::Revert { account } => {
            let finished = match host {
                Ok(mut h) => run_revert(&mut *h, &account),
                Err(e) => failed(e),
            };
            send(Reply::Finished {
                run: RunKind::Revert,
                finished,
            });
        }
        Job::Recover => {
            let finished = match host {
                Ok(mut h) => run_recover(&mut *h),
                Err(e) => failed(e),
            };
            send(Reply::Finished {
                run: RunKind::Recover,
                finished,
            });
        }
    }
}

fn load(host: &dyn engine::host::MigrationHost, sizes: bool) -> Loaded {
    let profiles = discover(host, DiscoverOptions { size: sizes })
        .map(|mut rows| {
            rows.retain(|p| !p.is_service());
            rows
        })
        .map_err(|e| {
            format!(
                "cannot list the profiles of {}: {}",
                host.describe(),
                shown(e)
            )
        });
    Loaded {
        describe: host.describe(),
        live: host.live().is_some(),
        machine: machine_info(host).map_err(shown),
        profiles,
        journals: migrate::find_journals(host).map_err(shown),
        sizes,
    }
}

fn failed(text: String) -> Finished {
    tracing::error!("{text}");
    Finished {
        ok: false,
        lines: vec![text],
        checks: Vec::new(),
    }
}

fn run_migrate(host: &mut dyn engine::host::MigrationHost, req: &MigrateRequest) -> Finished {
    match migrate::migrate(host, req) {
        Ok(o) => {
            let mut lines = vec![format!(
                "Migrated {} to local account {}",
                o.old_sid, o.account
            )];
            lines.push(format!(
                "account: {} {}",
                if o.account_created {
                    "created"
                } else {
                    "existing"
                },
                o.new_sid
            ));
            for done in &o.steps {
                lines.push(format!("{}: {}", done.step(), done.summary()));
            }
            for a in &o.after {
                let what = if a.ok {
                    a.detail.clone()
                } else {
                    format!("FAILED: {}", a.detail)
                };
                lines.push(format!("{:?}: {what}", a.action));
            }
            for w in &o.warnings {
                tracing::warn!("{w}");
                lines.push(format!("warning: {w}"));
            }
            lines.push(format!("journal: {}", o.journal.display()));
            lines.push(format!(
                "Undo with Revert in the Migrated tab (admu revert --name {})",
                o.account
            ));
            Finished {
                ok: true,
                lines,
                checks: Vec::new(),
            }
        }
        Err(MigrateError::Preflight(pre)) => {
            let text = shown(MigrateError::Preflight(pre.clone()));
            tracing::error!("{text}");
            Finished {
                ok: false,
                lines: vec![text],
                checks: pre.checks,
            }
        }
        Err(MigrateError::Failed(e)) => failed(shown(*e)),
        Err(e) => failed(shown(e)),
    }
}

fn run_revert(host: &mut dyn engine::host::MigrationHost, account: &str) -> Finished {
    match migrate::revert(host, account) {
        Ok(r) => Finished {
            ok: true,
            lines: vec![format!(
                "Reverted migration {}: the profile belongs to {} again; account {} removed",
                r.id,
                r.old_sid.as_deref().unwrap_or("?"),
                r.account.as_deref().unwrap_or("?")
            )],
            checks: Vec::new(),
        },
        Err(
            e @ (engine::Error::Journal(_)
            | engine::Error::Locked(_)
            | engine::Error::NotFound(_)
            | engine::Error::Refused(_)),
        ) => failed(shown(e)),
        Err(other) => failed(format!(
            "{other}; the revert is journaled: run `admu recover` to finish it"
        )),
    }
}

fn run_recover(host: &mut dyn engine::host::MigrationHost) -> Finished {
    match migrate::recover(host) {
        Ok(done) if done.is_empty() => Finished {
            ok: true,
            lines: vec![format!(
                "Nothing to recover: no unfinished migration on {}",
                host.describe()
            )],
            checks: Vec::new(),
        },
        Ok(done) => Finished {
            ok: true,
            lines: done
                .iter()
                .map(|j| {
                    let what = match j.status {
                        Status::Reverted => "Finished the interrupted revert of migration",
                        Status::Abandoned => "Closed empty journal of migration",
                        _ => "Rolled back unfinished migration",
                    };
                    format!(
                        "{what} {} (to {})",
                        j.id,
                        j.account.as_deref().unwrap_or("?")
                    )
                })
                .collect(),
            checks: Vec::new(),
        },
        Err(e) => failed(shown(e)),
    }
}
