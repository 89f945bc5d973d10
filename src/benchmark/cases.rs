//! The case lists of Prometheus's engine benchmarks, expanded as upstream expands them.

use super::data::{INFO_INTERVAL_MS, JOIN_INTERVALS, RANGE_QUERY_INTERVAL_MS, RANGE_QUERY_INTERVALS};

/// How Prometheus 2.x (the Debian `prometheus` package, 2.42) can run a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prometheus2 {
    /// The expression is valid in 2.x as written.
    Same,
    /// 2.x spells the same computation differently (`holt_winters` for
    /// `double_exponential_smoothing`).
    Spelled(String),
    /// 2.x cannot run it; the reason.
    Unsupported(&'static str),
}

/// One benchmark case: a range query over one of the data sets.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchCase {
    /// The suite: `range`, `join` or `info`.
    pub suite: &'static str,
    /// The PromQL expression (Prometheus 3 syntax).
    pub expr: String,
    /// Number of steps; the query has `steps + 1` evaluation points.
    pub steps: usize,
    /// First evaluation time (milliseconds).
    pub start: i64,
    /// Last evaluation time (milliseconds).
    pub end: i64,
    /// Step (milliseconds).
    pub step: i64,
    /// How Prometheus 2.x runs it.
    pub prometheus2: Prometheus2,
}

impl BenchCase {
    /// Upstream's benchmark name: `expr=<expr>,steps=<n>`.
    pub fn name(&self) -> String {
        format!("expr={},steps={}", self.expr, self.steps)
    }

    /// Number of evaluation points.
    pub fn points(&self) -> usize {
        ((self.end - self.start) / self.step.max(1)) as usize + 1
    }
}

/// The 43 templates of upstream's `rangeQueryCases`, in order; steps 0 = standard steps.
const RANGE_TEMPLATES: &[(&str, usize)] = &[
    ("a_X", 0),
    ("rate(a_X[1m])", 0),
    ("rate(a_X[1m])", 10_000),
    ("rate(sparse[1m])", 10_000),
    ("rate(a_X[1m] smoothed)", 0),
    ("rate(a_X[1m] smoothed)", 10_000),
    ("rate(sparse[1m] smoothed)", 10_000),
    ("double_exponential_smoothing(a_X[1d], 0.3, 0.3)", 0),
    ("changes(a_X[1d])", 0),
    ("rate(a_X[1d])", 0),
    ("absent_over_time(a_X[1d])", 0),
    ("-a_X", 0),
    ("a_X - b_X", 0),
    ("a_X - b_X", 10_000),
    ("a_X and b_X{l=~'.*[0-4]$'}", 0),
    ("a_X or b_X{l=~'.*[0-4]$'}", 0),
    ("a_X unless b_X{l=~'.*[0-4]$'}", 0),
    ("a_X and b_X{l='notfound'}", 0),
    ("abs(a_X)", 0),
    ("label_replace(a_X, 'l2', '$1', 'l', '(.*)')", 0),
    ("label_join(a_X, 'l2', '-', 'l', 'l')", 0),
    ("sum(a_X)", 0),
    ("avg(a_X)", 0),
    ("sum without (l)(h_X)", 0),
    ("sum without (le)(h_X)", 0),
    ("sum by (l)(h_X)", 0),
    ("sum by (le)(h_X)", 0),
    ("count_values('value', h_X)", 100),
    ("topk(1, a_X)", 0),
    ("topk(5, a_X)", 0),
    ("limitk(1, a_X)", 0),
    ("limitk(5, a_X)", 0),
    ("limit_ratio(0.1, a_X)", 0),
    ("limit_ratio(0.5, a_X)", 0),
    ("limit_ratio(-0.5, a_X)", 0),
    ("rate(a_X[1m]) + rate(b_X[1m])", 0),
    ("sum without (l)(rate(a_X[1m]))", 0),
    ("sum without (l)(rate(a_X[1m])) / sum without (l)(rate(b_X[1m]))", 0),
    ("histogram_quantile(0.9, rate(h_X[5m]))", 0),
    ("a_X + on(l) group_right a_one", 0),
    ("count({__name__!=\"\"})", 1),
    ("count({__name__!=\"\",l=\"\"})", 1),
    ("timestamp(a_X)", 0),
];

/// How Prometheus 2.42 runs `expr`.
fn prometheus2(expr: &str) -> Prometheus2 {
    if expr.contains(" smoothed") || expr.contains(" anchored") {
        Prometheus2::Unsupported("smoothed/anchored range selectors are Prometheus 3 syntax")
    } else if expr.starts_with("limitk") || expr.starts_with("limit_ratio") {
        Prometheus2::Unsupported("limitk/limit_ratio are Prometheus 3 (experimental) aggregations")
    } else if expr.starts_with("info(") || expr.contains("(info(") {
        Prometheus2::Unsupported("info() is a Prometheus 3 (experimental) function")
    } else if let Some(rest) = expr.strip_prefix("double_exponential_smoothing(") {
        Prometheus2::Spelled(format!("holt_winters({rest}"))
    } else {
        Prometheus2::Same
    }
}

/// The 152 cases of upstream's `BenchmarkRangeQuery` in upstream's order: each template with `X`
/// becomes an `X = one` and an `X = hundred` case; each case without fixed steps becomes a
/// 1-step and a 1000-step case. The window ends 10 s after the last sample and starts `steps`
/// intervals earlier.
pub fn range_query_cases() -> Vec<BenchCase> {
    let mut sized = Vec::new();
    for &(template, steps) in RANGE_TEMPLATES {
        if template.contains('X') {
            for size in ["one", "hundred"] {
                sized.push((template.replace('X', size), steps));
            }
        } else {
            sized.push((template.to_string(), steps));
        }
    }
    let end = RANGE_QUERY_INTERVALS as i64 * RANGE_QUERY_INTERVAL_MS;
    let mut out = Vec::new();
    for (expr, steps) in sized {
        let all_steps: &[usize] = if steps == 0 { &[1, 1_000] } else { &[steps] };
        for &steps in all_steps {
            out.push(BenchCase {
                suite: "range",
                prometheus2: prometheus2(&expr),
                expr: expr.clone(),
                steps,
                start: end - steps as i64 * RANGE_QUERY_INTERVAL_MS,
                end,
                step: RANGE_QUERY_INTERVAL_MS,
            });
        }
    }
    out
}

/// The 5 cases of upstream's `BenchmarkJoinQuery` (5,000 steps over [`super::join_data`]).
pub fn join_cases() -> Vec<BenchCase> {
    let steps = 5_000;
    let end = JOIN_INTERVALS as i64 * RANGE_QUERY_INTERVAL_MS;
    [
        "rpc_request_success_total + rpc_request_error_total",
        "rpc_request_success_total + ON (job, instance) GROUP_LEFT rpc_request_error_total",
        "rpc_request_success_total AND rpc_request_error_total{instance=~\"0.*\"}",
        "rpc_request_success_total OR rpc_request_error_total{instance=~\"0.*\"}",
        "rpc_request_success_total UNLESS rpc_request_error_total{instance=~\"0.*\"}",
    ]
    .into_iter()
    .map(|expr| BenchCase {
        suite: "join",
        expr: expr.to_string(),
        steps,
        start: end - steps as i64 * RANGE_QUERY_INTERVAL_MS,
        end,
        step: RANGE_QUERY_INTERVAL_MS,
        prometheus2: prometheus2(expr),
    })
    .collect()
}

/// The 4 cases of upstream's `BenchmarkInfoFunction` (0 to 2 h, step 30 s, over
/// [`super::info_data`]).
pub fn info_cases() -> Vec<BenchCase> {
    let end = 7_200_000;
    let step = 30_000;
    debug_assert!(step % INFO_INTERVAL_MS == 0);
    [
        "rate(http_server_request_duration_seconds_count[2m]) * on (job, instance) group_left (k8s_cluster_name) target_info{k8s_cluster_name=\"us-east\"}",
        "info(rate(http_server_request_duration_seconds_count[2m]), {k8s_cluster_name=\"us-east\"})",
        "sum by (k8s_cluster_name, http_status_code) (rate(http_server_request_duration_seconds_count[2m]) * on (job, instance) group_left (k8s_cluster_name) target_info)",
        "sum by (k8s_cluster_name, http_status_code) (info(rate(http_server_request_duration_seconds_count[2m]), {k8s_cluster_name=~\".+\"}))",
    ]
    .into_iter()
    .map(|expr| BenchCase {
        suite: "info",
        expr: expr.to_string(),
        steps: (end / step) as usize,
        start: 0,
        end,
        step,
        prometheus2: prometheus2(expr),
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_matches_upstream() {
        let cases = range_query_cases();
        assert_eq!(RANGE_TEMPLATES.len(), 43);
        assert_eq!(cases.len(), 152);
        let names: Vec<String> = cases.iter().take(5).map(BenchCase::name).collect();
        assert_eq!(
            names,
            [
                "expr=a_one,steps=1",
                "expr=a_one,steps=1000",
                "expr=a_hundred,steps=1",
                "expr=a_hundred,steps=1000",
                "expr=rate(a_one[1m]),steps=1"
            ]
        );
        let last = &cases[151];
        assert_eq!(last.name(), "expr=timestamp(a_hundred),steps=1000");
        assert_eq!((last.start, last.end, last.points()), (176_400_000, 186_400_000, 1_001));
        let runnable = cases.iter().filter(|c| !matches!(c.prometheus2, Prometheus2::Unsupported(_))).count();
        assert_eq!(runnable, 125);
        assert_eq!(join_cases()[0].points(), 5_001);
        assert_eq!(info_cases()[0].points(), 241);
    }
}
