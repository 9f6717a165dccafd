//! The names taskscope's data goes by, defined once: the metrics (OTLP names, units and
//! descriptions, and the Prometheus names derived from them), the attributes and labels,
//! following the OpenTelemetry semantic conventions where one exists and under `taskscope.*`
//! where none does, and the error kinds taskscope gives itself. The exporter, the Prometheus
//! endpoint, the receiver and the dashboard all use these; `docs/METRICS.md` has the table.

/// One metric taskscope writes: its OTLP name, unit and description, and the name the
/// OTLP-to-Prometheus translation gives it (dots to underscores, the unit `s` as
/// `_seconds`; counters add `_total` to their samples).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Metric {
    /// The OTLP name.
    pub(crate) name: &'static str,
    /// The UCUM unit.
    pub(crate) unit: &'static str,
    /// The Prometheus family name.
    pub(crate) prometheus: &'static str,
    /// What it counts, as the exports describe it.
    pub(crate) description: &'static str,
}

/// The metrics, each defined once.
pub(crate) mod metric {
    use super::Metric;

    /// Finished calls (counter).
    pub(crate) const CALLS: Metric = Metric {
        name: "function.calls",
        unit: "{call}",
        prometheus: "function_calls",
        description: "Finished calls, by outcome and error kind.",
    };
    /// Wall time per call (histogram, seconds).
    pub(crate) const DURATION: Metric = Metric {
        name: "function.calls.duration",
        unit: "s",
        prometheus: "function_calls_duration_seconds",
        description: "Wall time of a call: first poll to completion or drop.",
    };
    /// Busy time per call (histogram, seconds).
    pub(crate) const BUSY: Metric = Metric {
        name: "function.calls.busy",
        unit: "s",
        prometheus: "function_calls_busy_seconds",
        description: "Busy time of a call: the sum of its polls.",
    };
    /// Polls of finished calls (counter).
    pub(crate) const POLLS: Metric = Metric {
        name: "function.calls.polls",
        unit: "{poll}",
        prometheus: "function_calls_polls",
        description: "Polls made by finished calls.",
    };
    /// Slow polls of finished calls (counter).
    pub(crate) const SLOW_POLLS: Metric = Metric {
        name: "function.calls.slow_polls",
        unit: "{poll}",
        prometheus: "function_calls_slow_polls",
        description: "Polls longer than the slow-poll threshold.",
    };
    /// Calls in flight (up-down counter; a gauge in Prometheus).
    pub(crate) const CONCURRENT: Metric = Metric {
        name: "function.calls.concurrent",
        unit: "{call}",
        prometheus: "function_calls_concurrent",
        description: "Calls started and not finished.",
    };
    /// Waits from a wake to the next poll, of a function measured with
    /// `#[measure(scheduling)]` (histogram, seconds).
    pub(crate) const SCHEDULING: Metric = Metric {
        name: "function.scheduling.delay",
        unit: "s",
        prometheus: "function_scheduling_delay_seconds",
        description: "Time from a wake of a call to its next poll: the delay the runtime added.",
    };
    /// Attempts per call of a retried operation (histogram, buckets of 1 to 15 and 16 or
    /// more).
    pub(crate) const RETRY_ATTEMPTS: Metric = Metric {
        name: "function.retry.attempts",
        unit: "{attempt}",
        prometheus: "function_retry_attempts",
        description: "Attempts made by each call of a retried operation.",
    };
    /// Calls of a function from one caller (counter): an edge of the call graph.
    pub(crate) const CALLER_CALLS: Metric = Metric {
        name: "function.callers.calls",
        unit: "{call}",
        prometheus: "function_callers_calls",
        description: "Finished calls of a function from one caller (the measured call or span running when it started).",
    };
    /// The wall time of those calls, summed (counter, seconds).
    pub(crate) const CALLER_WALL: Metric = Metric {
        name: "function.callers.wall",
        unit: "s",
        prometheus: "function_callers_wall_seconds",
        description: "Wall time of a function's calls from one caller, summed.",
    };
    /// Their busy time, summed (counter, seconds).
    pub(crate) const CALLER_BUSY: Metric = Metric {
        name: "function.callers.busy",
        unit: "s",
        prometheus: "function_callers_busy_seconds",
        description: "Busy time of a function's calls from one caller, summed.",
    };
    /// Their self busy time, summed (counter, seconds).
    pub(crate) const CALLER_SELF_BUSY: Metric = Metric {
        name: "function.callers.self_busy",
        unit: "s",
        prometheus: "function_callers_self_busy_seconds",
        description: "Busy time of a function's calls from one caller outside the measured calls they made, summed.",
    };
    /// Data points the exporter gave up on (counter).
    pub(crate) const EXPORT_DROPPED: Metric = Metric {
        name: "taskscope.export.dropped",
        unit: "{point}",
        prometheus: "taskscope_export_dropped",
        description: "Data points of batches the exporter gave up on, since the process started.",
    };

    /// The tokio runtimes' metrics (the runtime monitor). No semantic convention covers
    /// tokio: they are namespaced `tokio.*`, shaped as the conventions shape the runtimes
    /// they do cover (`go.*`, `jvm.*`, `dotnet.*`): counts of things as up-down counters,
    /// events and time as counters, each point with `tokio.runtime.name` (and
    /// `tokio.worker.index` for a worker's own).
    pub(crate) mod runtime {
        use super::Metric;

        /// Worker threads.
        pub(crate) const WORKERS: Metric = Metric {
            name: "tokio.worker.count",
            unit: "{thread}",
            prometheus: "tokio_worker_count",
            description: "Worker threads of the runtime.",
        };
        /// Tasks alive.
        pub(crate) const TASKS: Metric = Metric {
            name: "tokio.task.count",
            unit: "{task}",
            prometheus: "tokio_task_count",
            description: "Tasks alive in the runtime.",
        };
        /// Tasks in the global queue.
        pub(crate) const GLOBAL_QUEUE: Metric = Metric {
            name: "tokio.global_queue.length",
            unit: "{task}",
            prometheus: "tokio_global_queue_length",
            description: "Tasks waiting in the global queue for a worker.",
        };
        /// A worker's busy time (counter, seconds).
        pub(crate) const BUSY: Metric = Metric {
            name: "tokio.worker.busy.time",
            unit: "s",
            prometheus: "tokio_worker_busy_time_seconds",
            description: "Time a worker spent busy (not parked), since the monitor started.",
        };
        /// A worker's parks (counter).
        pub(crate) const PARKS: Metric = Metric {
            name: "tokio.worker.parks",
            unit: "{park}",
            prometheus: "tokio_worker_parks",
            description: "Times a worker parked, waiting for work.",
        };
        /// Blocking-pool threads (`--cfg tokio_unstable`).
        pub(crate) const BLOCKING_THREADS: Metric = Metric {
            name: "tokio.blocking_pool.thread.count",
            unit: "{thread}",
            prometheus: "tokio_blocking_pool_thread_count",
            description: "Threads of the blocking pool, busy or idle.",
        };
        /// Idle blocking-pool threads (`--cfg tokio_unstable`).
        pub(crate) const BLOCKING_IDLE: Metric = Metric {
            name: "tokio.blocking_pool.idle_thread.count",
            unit: "{thread}",
            prometheus: "tokio_blocking_pool_idle_thread_count",
            description: "Idle threads of the blocking pool.",
        };
        /// Blocking tasks waiting for a thread (`--cfg tokio_unstable`).
        pub(crate) const BLOCKING_QUEUE: Metric = Metric {
            name: "tokio.blocking_pool.queue.length",
            unit: "{task}",
            prometheus: "tokio_blocking_pool_queue_length",
            description: "Blocking tasks waiting for a thread of the pool.",
        };
        /// Tasks in the workers' local queues (`--cfg tokio_unstable`).
        pub(crate) const LOCAL_QUEUE: Metric = Metric {
            name: "tokio.local_queue.length",
            unit: "{task}",
            prometheus: "tokio_local_queue_length",
            description: "Tasks in the workers' local queues.",
        };
        /// Task polls (counter, `--cfg tokio_unstable`).
        pub(crate) const POLLS: Metric = Metric {
            name: "tokio.task.polls",
            unit: "{poll}",
            prometheus: "tokio_task_polls",
            description: "Task polls, since the monitor started.",
        };
        /// Tasks stolen between workers (counter, `--cfg tokio_unstable`).
        pub(crate) const STEALS: Metric = Metric {
            name: "tokio.task.steals",
            unit: "{task}",
            prometheus: "tokio_task_steals",
            description: "Tasks stolen from another worker, since the monitor started.",
        };
        /// Budget-forced yields (counter, `--cfg tokio_unstable`).
        pub(crate) const BUDGET_YIELDS: Metric = Metric {
            name: "tokio.task.budget_forced_yields",
            unit: "{yield}",
            prometheus: "tokio_task_budget_forced_yields",
            description: "Times a task yielded because its cooperative budget ran out.",
        };
        /// I/O events delivered (counter, `--cfg tokio_unstable`).
        pub(crate) const IO_READY: Metric = Metric {
            name: "tokio.io_driver.ready",
            unit: "{event}",
            prometheus: "tokio_io_driver_ready",
            description: "I/O readiness events the driver delivered.",
        };
        /// Polls by duration (histogram, seconds, `--cfg tokio_unstable` and tokio's
        /// poll-time histogram enabled; OTLP only).
        pub(crate) const POLL_TIME: Metric = Metric {
            name: "tokio.task.poll.duration",
            unit: "s",
            prometheus: "tokio_task_poll_duration_seconds",
            description: "Task polls by duration, in tokio's own buckets.",
        };

        /// Every runtime metric, in the order the exports write them.
        pub(crate) const ALL: [Metric; 14] = [
            WORKERS,
            TASKS,
            GLOBAL_QUEUE,
            BUSY,
            PARKS,
            BLOCKING_THREADS,
            BLOCKING_IDLE,
            BLOCKING_QUEUE,
            LOCAL_QUEUE,
            POLLS,
            STEALS,
            BUDGET_YIELDS,
            IO_READY,
            POLL_TIME,
        ];
    }

    /// Every metric, in the order the exports write them.
    pub(crate) const ALL: [Metric; 9] = [
        CALLS,
        DURATION,
        BUSY,
        POLLS,
        SLOW_POLLS,
        CONCURRENT,
        SCHEDULING,
        RETRY_ATTEMPTS,
        EXPORT_DROPPED,
    ];
}

/// Attribute names.
pub(crate) mod attr {
    /// The function, fully qualified: `my_app::orders::charge`, `my_app::Store::load`
    /// (semantic conventions: `code.function.name`).
    pub(crate) const FUNCTION: &str = "code.function.name";
    /// The source file of a span's function (`code.file.path`).
    pub(crate) const FILE: &str = "code.file.path";
    /// Its line (`code.line.number`).
    pub(crate) const LINE: &str = "code.line.number";
    /// How a call ended: `ok`, `error`, `cancelled`, `panicked` (taskscope's own).
    pub(crate) const OUTCOME: &str = "taskscope.outcome";
    /// The bounded kind of an error (semantic conventions: `error.type`).
    pub(crate) const ERROR_TYPE: &str = "error.type";
    /// Marks the point that counts what went over a cardinality cap (the OpenTelemetry
    /// SDK's `otel.metric.overflow`).
    pub(crate) const OVERFLOW: &str = "otel.metric.overflow";
    /// The kind of an exception event (`exception.type`).
    pub(crate) const EXCEPTION_TYPE: &str = "exception.type";
    /// A per-process id on the resource, so replicas do not collide.
    pub(crate) const SERVICE_INSTANCE: &str = "service.instance.id";
    /// The caller of a call graph edge, fully qualified as `code.function.name` is;
    /// [`ROOT_CALLER`](super::ROOT_CALLER) for calls with no measured caller,
    /// [`OVERFLOW_KIND`](super::OVERFLOW_KIND) for the callers over the cap.
    pub(crate) const CALLER: &str = "taskscope.caller";
    /// What the calls are of, for the async patterns' operations (`retry`, `semaphore`,
    /// ...); absent for a function.
    pub(crate) const KIND: &str = "taskscope.kind";
    /// The name a tokio runtime was given to the runtime monitor.
    pub(crate) const RUNTIME: &str = "tokio.runtime.name";
    /// A worker of a tokio runtime, by its index.
    pub(crate) const WORKER: &str = "tokio.worker.index";
}

/// The attributes as Prometheus labels (dots to underscores, as the OTLP-to-Prometheus
/// translation writes them).
pub(crate) mod label {
    /// [`attr::FUNCTION`](super::attr::FUNCTION).
    pub(crate) const FUNCTION: &str = "code_function_name";
    /// [`attr::OUTCOME`](super::attr::OUTCOME).
    pub(crate) const OUTCOME: &str = "taskscope_outcome";
    /// [`attr::ERROR_TYPE`](super::attr::ERROR_TYPE).
    pub(crate) const ERROR_TYPE: &str = "error_type";
    /// [`attr::OVERFLOW`](super::attr::OVERFLOW).
    pub(crate) const OVERFLOW: &str = "otel_metric_overflow";
    /// [`attr::CALLER`](super::attr::CALLER).
    pub(crate) const CALLER: &str = "taskscope_caller";
    /// [`attr::KIND`](super::attr::KIND).
    pub(crate) const KIND: &str = "taskscope_kind";
    /// [`attr::RUNTIME`](super::attr::RUNTIME).
    pub(crate) const RUNTIME: &str = "tokio_runtime_name";
    /// [`attr::WORKER`](super::attr::WORKER).
    pub(crate) const WORKER: &str = "tokio_worker_index";
}

/// The instrumentation scope every export names.
pub(crate) const SCOPE_NAME: &str = "taskscope";
/// Its version.
pub(crate) const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The error kind under which errors beyond a function's kind limit are counted, the
/// function that spans beyond the layer's function limit are counted under, and the caller
/// of the calls from callers beyond a function's caller limit.
pub const OVERFLOW_KIND: &str = "_overflow";

/// The caller of the calls that started with no measured call running: a task's top-level
/// call, or one from unmeasured code.
pub const ROOT_CALLER: &str = "(root)";

/// The error kind of a measured block left early by `?`, `return` or `break`.
pub const EARLY_EXIT_KIND: &str = "EarlyExit";

/// The error kind of a span that recorded an error without saying which: OpenTelemetry's
/// value for an `error.type` that is not known.
pub const UNKNOWN_ERROR_KIND: &str = "_OTHER";

/// The kind the dashboard lists for errors a sender gave no kind.
pub(crate) const NO_KIND: &str = "(no kind)";

/// Shortens a type name to its last path segment without generics:
/// `std::io::error::Error` becomes `Error`, `alloc::boxed::Box<dyn Error>` becomes `Box`.
pub(crate) fn short_kind(kind: &'static str) -> &'static str {
    let base = kind.split('<').next().unwrap_or(kind);
    base.rsplit("::").next().unwrap_or(base).trim()
}

/// The names taskscope used before it followed the semantic conventions: the receiver
/// still reads them, so older taskscope senders keep working.
pub(crate) mod legacy {
    /// The function's short name.
    pub(crate) const FUNCTION: &str = "function";
    /// Its module.
    pub(crate) const MODULE: &str = "module";
    /// The outcome.
    pub(crate) const OUTCOME: &str = "outcome";
    /// The error kind.
    pub(crate) const ERROR_KIND: &str = "error.kind";
}

/// The fully qualified name of a function: its module path and its name.
pub(crate) fn qualified(module: &str, name: &str) -> String {
    let mut out = String::with_capacity(module.len() + 2 + name.len());
    qualify_into(&mut out, module, name);
    out
}

/// As [`qualified`], into a reused string.
pub(crate) fn qualify_into(out: &mut String, module: &str, name: &str) {
    out.clear();
    if !module.is_empty() && module != name {
        out.push_str(module);
        out.push_str("::");
    }
    out.push_str(name);
}

/// A fully qualified name split back into its module and name: the module is the leading
/// path segments that are snake_case (as Rust modules are), leaving at least the last
/// segment as the name, so `my_app::orders::Store::load` is `my_app::orders` and
/// `Store::load`, and `my_app::GET /users` is `my_app` and `GET /users`.
pub(crate) fn split_qualified(full: &str) -> (&str, &str) {
    let mut module_end = 0;
    let mut rest = full;
    while let Some((segment, after)) = rest.split_once("::") {
        let snake = !segment.is_empty()
            && segment
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !snake || after.is_empty() {
            break;
        }
        module_end += segment.len() + if module_end == 0 { 0 } else { 2 };
        rest = after;
    }
    if module_end == 0 {
        return ("", full);
    }
    (&full[..module_end], &full[module_end + 2..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The OTLP-to-Prometheus translation of a metric name and unit.
    fn prometheus_name(name: &str, unit: &str) -> String {
        let mut out = name.replace('.', "_");
        if unit == "s" {
            out.push_str("_seconds");
        }
        out
    }

    #[test]
    fn prometheus_names_follow_the_translation() {
        for m in metric::ALL.iter().chain(&metric::runtime::ALL) {
            assert_eq!(m.prometheus, prometheus_name(m.name, m.unit), "{m:?}");
        }
        for (a, l) in [
            (attr::FUNCTION, label::FUNCTION),
            (attr::OUTCOME, label::OUTCOME),
            (attr::ERROR_TYPE, label::ERROR_TYPE),
            (attr::OVERFLOW, label::OVERFLOW),
            (attr::KIND, label::KIND),
            (attr::RUNTIME, label::RUNTIME),
            (attr::WORKER, label::WORKER),
        ] {
            assert_eq!(l, prometheus_name(a, ""));
        }
    }

    #[test]
    fn short_kinds() {
        assert_eq!(short_kind("std::io::error::Error"), "Error");
        assert_eq!(
            short_kind("alloc::boxed::Box<dyn core::error::Error + Send>"),
            "Box"
        );
        assert_eq!(short_kind("NotFound"), "NotFound");
    }

    #[test]
    fn qualified_names_split_back_at_the_module() {
        for (module, name) in [
            ("my_app::orders", "charge"),
            ("my_app::orders", "Store::load"),
            ("h2::codec", "FramedRead::poll_next"),
            ("my_app", "GET /users"),
            ("my_app", "/users/{id}"),
            ("app2", "tick"),
        ] {
            let full = qualified(module, name);
            assert_eq!(split_qualified(&full), (module, name), "{full}");
        }
        assert_eq!(qualified("", "alone"), "alone");
        assert_eq!(split_qualified("alone"), ("", "alone"));
        assert_eq!(split_qualified("Type::method"), ("", "Type::method"));
        assert_eq!(split_qualified("a::"), ("", "a::"));
        // A span named after its module is not doubled.
        assert_eq!(qualified("_overflow", "_overflow"), "_overflow");
    }
}
