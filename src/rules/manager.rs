//! The rule manager: runs every group on its own thread at Prometheus's evaluation slots, reloads
//! changed groups keeping alert state, restores `for` state at startup, and marks the series of
//! removed groups stale.
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use ferroprom::model::{Labels, Sample};
//! use ferroprom::rules::group::{GroupSpec, QueryError, RuleSpec};
//! use ferroprom::rules::manager::{Manager, ManagerOptions};
//! use ferroprom::storage::MemStorage;
//!
//! // A query function answering `vector(1)` only; the engine provides the real one.
//! let query = |expr: &str, t: i64| -> Result<Vec<Sample>, QueryError> {
//!     match expr {
//!         "vector(1)" => Ok(vec![Sample { labels: Labels::empty(), t, f: 1.0, h: None }]),
//!         other => Err(QueryError(format!("unsupported: {other}"))),
//!     }
//! };
//! let store = Arc::new(MemStorage::new());
//! let manager = Manager::new(ManagerOptions::new(Arc::new(query), store.clone()));
//! manager.update(vec![GroupSpec {
//!     name: "g".into(),
//!     file: "rules.yml".into(),
//!     interval: 60_000,
//!     query_offset: None,
//!     limit: 0,
//!     labels: BTreeMap::new(),
//!     rules: vec![RuleSpec::Recording { name: "one".into(), expr: "vector(1)".into(), labels: BTreeMap::new() }],
//! }]);
//! assert_eq!(manager.groups().len(), 1);
//! let json = manager.with_groups(|groups| ferroprom::rules::api::rules_json(groups));
//! assert!(json.starts_with(r#"{"groups":[{"name":"g","file":"rules.yml","rules":[{"name":"one""#));
//! manager.stop();
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::rules::group::{
    EvalEnv, Group, GroupSpec, NotifyFn, QueryFunc, RuleSpec, RuleStore, now_millis, now_nanos,
};
use crate::rules::{RuleGroup, RuleKind as ConfiguredKind};

/// Settings of a [`Manager`]; [`ManagerOptions::new`] gives Prometheus's defaults.
#[derive(Clone)]
pub struct ManagerOptions {
    /// Answers rule expressions.
    pub query: Arc<dyn QueryFunc>,
    /// Receives rule results; also read to restore `for` state.
    pub store: Arc<dyn RuleStore>,
    /// Receives alerts to send (see [`crate::rules::group::send_to_notifier`]).
    pub notify: Option<NotifyFn>,
    /// External labels, visible to alert templates as `$externalLabels`.
    pub external_labels: BTreeMap<String, String>,
    /// External URL, visible to templates and used in generator URLs.
    pub external_url: String,
    /// `--rules.alert.resend-delay` in milliseconds (1m).
    pub resend_delay: i64,
    /// The global `evaluation_interval` in milliseconds (1m), for groups without `interval`.
    pub default_interval: i64,
    /// The global `rule_query_offset` in milliseconds (0).
    pub default_query_offset: i64,
    /// `--rules.alert.for-outage-tolerance` in milliseconds (1h).
    pub outage_tolerance: i64,
    /// `--rules.alert.for-grace-period` in milliseconds (10m).
    pub for_grace_period: i64,
}

impl std::fmt::Debug for ManagerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerOptions")
            .field("external_labels", &self.external_labels)
            .field("external_url", &self.external_url)
            .field("resend_delay", &self.resend_delay)
            .field("default_interval", &self.default_interval)
            .finish_non_exhaustive()
    }
}

impl ManagerOptions {
    /// Options with Prometheus's defaults, answering through `query` into `store`.
    pub fn new(query: Arc<dyn QueryFunc>, store: Arc<dyn RuleStore>) -> ManagerOptions {
        ManagerOptions {
            query,
            store,
            notify: None,
            external_labels: BTreeMap::new(),
            external_url: String::new(),
            resend_delay: 60_000,
            default_interval: 60_000,
            default_query_offset: 0,
            outage_tolerance: 3_600_000,
            for_grace_period: 600_000,
        }
    }

    fn env(&self) -> EvalEnv {
        EvalEnv {
            query: Arc::clone(&self.query),
            store: Arc::clone(&self.store),
            notify: self.notify.clone(),
            resend_delay: self.resend_delay,
            default_query_offset: self.default_query_offset,
        }
    }
}

/// Turns loaded rule groups into group definitions: the global interval for groups without one,
/// group labels kept for merging under rule labels.
pub fn group_specs(groups: &[RuleGroup], default_interval: i64) -> Vec<GroupSpec> {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    groups
        .iter()
        .map(|g| GroupSpec {
            name: g.name.clone(),
            file: g.file.clone(),
            interval: g.interval.map(ms).filter(|&i| i > 0).unwrap_or(default_interval),
            query_offset: g.query_offset.map(ms),
            limit: g.limit,
            labels: g.labels.clone(),
            rules: g
                .rules
                .iter()
                .map(|r| match &r.kind {
                    ConfiguredKind::Recording => RuleSpec::Recording {
                        name: r.name.clone(),
                        expr: r.expr.clone(),
                        labels: r.labels.clone(),
                    },
                    ConfiguredKind::Alerting { hold, keep_firing_for, annotations } => {
                        RuleSpec::Alerting(crate::rules::alerting::AlertingRuleSpec {
                            name: r.name.clone(),
                            expr: r.expr.clone(),
                            hold_duration: ms(*hold),
                            keep_firing_for: ms(*keep_firing_for),
                            labels: r.labels.clone(),
                            annotations: annotations.clone(),
                        })
                    }
                })
                .collect(),
        })
        .collect()
}

struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    fn new() -> Arc<Stop> {
        Arc::new(Stop { stopped: Mutex::new(false), wake: Condvar::new() })
    }

    fn lock(&self) -> MutexGuard<'_, bool> {
        self.stopped.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn signal(&self) {
        *self.lock() = true;
        self.wake.notify_all();
    }

    fn is_stopped(&self) -> bool {
        *self.lock()
    }

    /// Sleeps until Unix time `until_ns`; false when stopped first.
    fn sleep_until(&self, until_ns: i64) -> bool {
        let mut stopped = self.lock();
        loop {
            if *stopped {
                return false;
            }
            let now = now_nanos();
            if now >= until_ns {
                return true;
            }
            let wait = Duration::from_nanos((until_ns - now) as u64);
            stopped = self.wake.wait_timeout(stopped, wait).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

struct Running {
    group: Arc<Mutex<Group>>,
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    fn halt(&mut self) {
        self.stop.signal();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct State {
    groups: BTreeMap<String, Running>,
    restored: bool,
    stale_markers: Vec<JoinHandle<()>>,
}

/// Runs rule groups. Dropping the manager stops every group.
pub struct Manager {
    opts: ManagerOptions,
    state: Mutex<State>,
    shutting_down: Arc<Stop>,
    stopped: AtomicBool,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").field("opts", &self.opts).finish_non_exhaustive()
    }
}

fn lock_group(g: &Mutex<Group>) -> MutexGuard<'_, Group> {
    g.lock().unwrap_or_else(|e| e.into_inner())
}

impl Manager {
    /// A manager with no groups yet; [`Manager::update`] starts them.
    pub fn new(opts: ManagerOptions) -> Manager {
        Manager {
            opts,
            state: Mutex::new(State { groups: BTreeMap::new(), restored: false, stale_markers: Vec::new() }),
            shutting_down: Stop::new(),
            stopped: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the running groups with `specs` as Prometheus's `Update` does: unchanged groups
    /// keep running untouched; changed ones are stopped and their replacement takes over their
    /// state (alerts of rules with the same name and labels, previous series); removed ones stop
    /// and, after two intervals, get stale markers for their series. On the first call, alerting
    /// rules restore their `for` state from `ALERTS_FOR_STATE` after the second evaluation.
    pub fn update(&self, specs: Vec<GroupSpec>) {
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        let mut state = self.lock();
        let should_restore = !state.restored;
        state.restored = true;
        let mut old = std::mem::take(&mut state.groups);
        for spec in specs {
            let key = spec.key();
            let mut new =
                Group::new(spec, &self.opts.external_labels, &self.opts.external_url, !should_restore);
            if let Some(mut running) = old.remove(&key) {
                if lock_group(&running.group).equals(&new) {
                    state.groups.insert(key, running);
                    continue;
                }
                running.halt();
                new.copy_state(&lock_group(&running.group));
            }
            let running = self.start(new, should_restore);
            state.groups.insert(key, running);
        }
        for (_, mut running) in old {
            running.halt();
            let group = Arc::clone(&running.group);
            let env = self.opts.env();
            let shutdown = Arc::clone(&self.shutting_down);
            let query_offset = lock_group(&group).query_offset(env.default_query_offset);
            let interval_ns = lock_group(&group).interval().saturating_mul(2_000_000);
            let removed_at = now_millis();
            state.stale_markers.push(std::thread::spawn(move || {
                if shutdown.sleep_until(now_nanos().saturating_add(interval_ns)) {
                    lock_group(&group).mark_all_stale(removed_at - query_offset, &env);
                }
            }));
        }
    }

    fn start(&self, group: Group, should_restore: bool) -> Running {
        let group = Arc::new(Mutex::new(group));
        let stop = Stop::new();
        let env = self.opts.env();
        let (g, s) = (Arc::clone(&group), Arc::clone(&stop));
        let (tolerance, grace) = (self.opts.outage_tolerance, self.opts.for_grace_period);
        let thread = std::thread::spawn(move || run_group(&g, &s, &env, should_restore, tolerance, grace));
        Running { group, stop, thread: Some(thread) }
    }

    /// The running groups, ordered by `file;name`.
    pub fn groups(&self) -> Vec<Arc<Mutex<Group>>> {
        self.lock().groups.values().map(|r| Arc::clone(&r.group)).collect()
    }

    /// Runs `f` with every running group locked, ordered by `file;name` (for the API renderers of
    /// [`crate::rules::api`]).
    pub fn with_groups<T>(&self, f: impl FnOnce(&[&Group]) -> T) -> T {
        let handles = self.groups();
        let guards: Vec<MutexGuard<'_, Group>> = handles.iter().map(|g| lock_group(g)).collect();
        let refs: Vec<&Group> = guards.iter().map(|g| &**g).collect();
        f(&refs)
    }

    /// Stops every group (after its current evaluation). Removed groups still waiting to write
    /// stale markers do not write them.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.shutting_down.signal();
        let mut state = self.lock();
        for running in state.groups.values_mut() {
            running.halt();
        }
        for t in state.stale_markers.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One group's loop: wait for the first slot after now, evaluate at every slot, count missed
/// slots, restore `for` state after the second evaluation when asked.
fn run_group(
    group: &Mutex<Group>,
    stop: &Stop,
    env: &EvalEnv,
    should_restore: bool,
    tolerance: i64,
    grace: i64,
) {
    let (interval_ns, mut slot) = {
        let g = lock_group(group);
        let interval_ns = g.interval().max(1).saturating_mul(1_000_000);
        (interval_ns, g.eval_timestamp_nanos(now_nanos()).saturating_add(interval_ns))
    };
    if !stop.sleep_until(slot) {
        return;
    }
    let eval = |slot: i64| {
        let mut g = lock_group(group);
        g.add_iterations(1, 0);
        g.eval(slot.div_euclid(1_000_000), env);
    };
    eval(slot);
    let mut evaluations = 1;
    loop {
        if !stop.sleep_until(slot.saturating_add(interval_ns)) {
            return;
        }
        let missed = ((now_nanos() - slot) / interval_ns - 1).max(0);
        if missed > 0 {
            lock_group(group).add_iterations(missed as u64, missed as u64);
        }
        slot = slot.saturating_add((missed + 1).saturating_mul(interval_ns));
        if stop.is_stopped() {
            return;
        }
        eval(slot);
        evaluations += 1;
        if should_restore && evaluations == 2 {
            lock_group(group).restore_for_state(now_millis(), env.store.as_ref(), tolerance, grace);
        }
    }
}

/// Evaluates `groups` over stored data instead of live: every group at each of its slots in
/// `[start, end]` (multiples of its interval counted from `start`), in time order (groups due at
/// the same time in the order given). Used to run rules over a recorded data set.
///
/// ```
/// use std::collections::BTreeMap;
/// use std::sync::Arc;
/// use ferroprom::engine::{Engine, EngineOptions};
/// use ferroprom::model::Labels;
/// use ferroprom::rules::group::{EngineQueryFunc, EvalEnv, Group, GroupSpec, RuleSpec};
/// use ferroprom::rules::manager::replay;
/// use ferroprom::storage::MemStorage;
///
/// let store = Arc::new(MemStorage::new());
/// store.append(&Labels::from_pairs([("__name__", "up"), ("job", "a")]), 0, 1.0)?;
/// let env = EvalEnv {
///     query: Arc::new(EngineQueryFunc { engine: Arc::new(Engine::new(EngineOptions::default())), storage: store.clone() }),
///     store: store.clone(),
///     notify: None,
///     resend_delay: 60_000,
///     default_query_offset: 0,
/// };
/// let spec = GroupSpec {
///     name: "g".into(), file: "r.yml".into(), interval: 60_000, query_offset: None, limit: 0,
///     labels: BTreeMap::new(),
///     rules: vec![RuleSpec::Recording { name: "job:up:sum".into(), expr: "sum by (job) (up)".into(), labels: BTreeMap::new() }],
/// };
/// let mut groups = vec![Group::new(spec, &BTreeMap::new(), "", true)];
/// replay(&mut groups, &env, 0, 120_000);
/// assert_eq!(groups[0].last_eval_timestamp(), Some(120_000));
/// assert_eq!(store.series_count(), 2); // up and job:up:sum
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn replay(groups: &mut [Group], env: &EvalEnv, start: i64, end: i64) {
    let mut next: Vec<i64> = vec![start; groups.len()];
    loop {
        let Some(t) = next.iter().copied().filter(|&t| t <= end).min() else { return };
        for (i, g) in groups.iter_mut().enumerate() {
            if next[i] == t {
                g.eval(t, env);
                next[i] = t.saturating_add(g.interval().max(1));
            }
        }
    }
}
