#!/usr/bin/env python3
"""Compare `ferroprom serve` with a real Prometheus over HTTP, endpoint by endpoint (used by
.ci/interop-serve, which starts both servers on the same data).

  interop_serve.py compare --prom URL --ferro URL --queries testdata/oracle/queries.json
  interop_serve.py bench   --prom URL --ferro URL --queries testdata/oracle/queries.json [--runs N]

`compare` sends every query of the oracle's list (instant at off-grid times, and range) and a set of
requests to the other endpoints to both servers, alternating GET and POST, and compares the JSON:
HTTP status, status, errorType, resultType, labels, timestamps (as written, e.g. `100.500`) and
values (relative eps 1e-6, NaN == NaN; see testdata/oracle/README.md on the last-bit differences).
Only the differences between Prometheus 2.42 (the Debian package) and 3.x that DOCUMENTED lists are
allowed; anything else is printed and makes the exit status 1. Standard library only.
"""

import argparse
import http.client
import importlib.util
import json
import math
import os
import re
import statistics
import sys
import time
import urllib.parse

ORACLE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tools", "oracle", "prom_oracle.py")
EPS = 1e-6

# Differences between the oracle (Prometheus 2.42) and Prometheus 3.x, which ferroprom follows.
# Each is (what, why); the comparison applies exactly these and nothing else.
DOCUMENTED = [
    ("warnings and infos are not compared",
     "3.x adds `infos` (e.g. 'metric might not be a counter') and rewords annotations; 2.42 has neither"),
    ("error texts: 'Invalid time value' vs 'invalid time value'",
     "3.x lower-cased the message of parseTimeParam"),
    ("error texts: 3.x prefixes query_range's query errors with 'invalid parameter \"query\": ' (2.42 only instant ones)",
     "3.x returns every NewRangeQuery error through invalidParamError"),
    ("error texts of timeouts: 'query timed out in query execution' vs '... in expression evaluation'",
     "the stage named is where the deadline was noticed; errorType and status are compared"),
    ("error texts of match[] that is not a selector",
     "Prometheus reports the grammar's token error; ferroprom says the selector is not one"),
    ("stats: values are not compared; ferroprom's keys must include 2.42's",
     "timings differ by nature; 3.x adds samples.samplesRead"),
    ("status/buildinfo: the same keys, values not compared", "versions differ by nature"),
    ("parse_query: 2.42 answers 404 (the endpoint came in 2.47)",
     "ferroprom's tree is checked for its shape only; its exact JSON is fixed in testdata/serve/"),
]


def load_oracle():
    spec = importlib.util.spec_from_file_location("prom_oracle", ORACLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Num(str):
    """A JSON number kept as written."""


def parse(body):
    try:
        return json.loads(body, parse_float=Num, parse_int=Num)
    except ValueError:
        return body


class Client:
    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def request(self, method, path, params):
        body = urllib.parse.urlencode(params, doseq=True)
        headers = {}
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body:
            path = path + "?" + body
            body = None
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read().decode()
                return r.status, data
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def as_float(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def values_equal(a, b):
    fa, fb = as_float(a), as_float(b)
    if fa is None or fb is None:
        return a == b
    if math.isnan(fa) and math.isnan(fb):
        return True
    if fa == fb:
        return True
    if math.isinf(fa) or math.isinf(fb):
        return False
    return abs(fa - fb) / (abs(fa) + abs(fb)) < EPS


def diff(a, b, where="$"):
    """The first difference between two parsed JSON values, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        if sorted(a) != sorted(b):
            return "%s: keys %s vs %s" % (where, sorted(a), sorted(b))
        for k in a:
            d = diff(a[k], b[k], "%s.%s" % (where, k))
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return "%s: %d vs %d items" % (where, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, "%s[%d]" % (where, i))
            if d:
                return d
        return None
    if isinstance(a, Num) and isinstance(b, Num):
        return None if a == b else "%s: number %s vs %s" % (where, a, b)
    if type(a) is not type(b):
        return "%s: %r vs %r" % (where, a, b)
    if isinstance(a, str):
        return None if values_equal(a, b) else "%s: %r vs %r" % (where, a, b)
    return None if a == b else "%s: %r vs %r" % (where, a, b)


def normalise_message(msg):
    """Applies the documented 2.42 -> 3.x rewordings to an error text."""
    msg = msg.replace("Invalid time value for", "invalid time value for")
    msg = re.sub(r'^invalid parameter "query": ', "", msg)
    msg = re.sub(r"query timed out in .*", "query timed out", msg)
    return msg


def compare_responses(p, f, ordered=False, stats=False, parse_errors_loose=False):
    """(prometheus (status, body), ferroprom (status, body)) -> None or the first difference."""
    (ps, pb), (fs, fb) = p, f
    if ps != fs:
        return "HTTP %s vs %s (%s | %s)" % (ps, fs, pb[:200], fb[:200])
    pj, fj = parse(pb), parse(fb)
    if not isinstance(pj, dict) or not isinstance(fj, dict):
        return None if pb == fb else "body %r vs %r" % (pb[:200], fb[:200])
    for k in ("warnings", "infos"):
        pj.pop(k, None)
        fj.pop(k, None)
    if pj.get("status") == "error":
        if pj.get("errorType") != fj.get("errorType"):
            return "errorType %s vs %s" % (pj.get("errorType"), fj.get("errorType"))
        if parse_errors_loose and "parse error" in str(pj.get("error")):
            return None if "parse error" in str(fj.get("error")) else "error %r vs %r" % (pj["error"], fj["error"])
        pm, fm = normalise_message(str(pj.get("error"))), normalise_message(str(fj.get("error")))
        return None if pm == fm else "error %r vs %r" % (pj.get("error"), fj.get("error"))
    data_p, data_f = pj.get("data"), fj.get("data")
    if isinstance(data_p, dict) and "resultType" in data_p:
        if stats:
            sp, sf = data_p.pop("stats", {}), data_f.pop("stats", {}) if isinstance(data_f, dict) else {}
            for part in ("timings", "samples"):
                missing = set(sp.get(part, {})) - set(sf.get(part, {}))
                if missing:
                    return "stats.%s lacks %s" % (part, sorted(missing))
        if not ordered and data_p.get("resultType") in ("vector", "matrix") and isinstance(data_f, dict):
            for d in (data_p, data_f):
                d["result"] = sorted(d.get("result") or [], key=lambda r: sorted(r.get("metric", {}).items()))
    return diff(pj, fj)


ORDERED = re.compile(r"^\s*(sort|sort_desc)\s*\(")


def query_requests(oracle, path):
    items = oracle.load_queries(path, {"kind": "both", "time": "0", "start": "0", "end": "0", "step": "60"})
    for q in items:
        if q["kind"] == "instant":
            yield ("/api/v1/query", {"query": q["query"], "time": oracle.ms_to_api(q["time_ms"])},
                   bool(ORDERED.match(q["query"])))
        else:
            yield ("/api/v1/query_range", {"query": q["query"], "start": oracle.ms_to_api(q["start_ms"]),
                                           "end": oracle.ms_to_api(q["end_ms"]),
                                           "step": oracle.ms_to_api(q["step_ms"])},
                   bool(ORDERED.match(q["query"])))


# Requests to the other endpoints: (name, method, path, params, options).
def endpoint_requests():
    full = {"start": "-1", "end": "100000"}
    sel = ['up', '{job="node-exporter",cpu="0"}', 'node_cpu_seconds_total{mode=~"user|system"}', 'nothing_here']
    out = []
    for s in sel:
        out.append(("series " + s, "/api/v1/series", dict(full, **{"match[]": [s]}), {}))
    out.append(("series two matchers", "/api/v1/series", {"match[]": ["up", 'http_requests_total{code="200"}']}, {}))
    out.append(("series without start/end", "/api/v1/series", {"match[]": ['node_memory_MemFree_bytes']}, {}))
    out.append(("labels", "/api/v1/labels", {}, {}))
    out.append(("labels in range", "/api/v1/labels", dict(full), {}))
    out.append(("labels of up", "/api/v1/labels", {"match[]": ["up"]}, {}))
    out.append(("labels of two", "/api/v1/labels", {"match[]": ["up", "http_requests_total"]}, {}))
    for name in ("__name__", "job", "mode", "le", "cpu", "no_such_label"):
        out.append(("values of " + name, "/api/v1/label/%s/values" % name, {}, {}))
    out.append(("values of mode for user", "/api/v1/label/mode/values",
                {"match[]": ['node_cpu_seconds_total{mode=~"u.*"}']}, {}))
    out.append(("values of instance in range", "/api/v1/label/instance/values", dict(full), {}))
    for q in ['sum(rate(http_requests_total{job="api-server"}[5m])) by (code) / ignoring(code) group_left sum(rate(http_requests_total[5m]))',
              'max by (cluster) (node_memory_MemFree_bytes) > 1 and on (cluster) up == 1',
              'histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
              'a{b="c"}[5m:1m] offset 1h', '-x ^ 2 @ 100', 'label_replace(up, "a", "$1", "b", "(.*)")']:
        out.append(("format_query " + q[:30], "/api/v1/format_query", {"query": q}, {}))
    out.append(("buildinfo", "/api/v1/status/buildinfo", {}, {"keys_only": True}))
    out.append(("rules", "/api/v1/rules", {}, {}))
    out.append(("alerts", "/api/v1/alerts", {}, {}))
    out.append(("stats=all", "/api/v1/query_range",
                {"query": "sum(rate(node_cpu_seconds_total[5m]))", "start": "600.5", "end": "1800.5", "step": "60",
                 "stats": "all"}, {"stats": True}))
    out.append(("stats=true instant", "/api/v1/query", {"query": "up", "time": "1000.5", "stats": "true"},
                {"stats": True}))
    # Errors: both sides must agree on status, errorType and (documented rewording aside) text.
    errors = [
        ("/api/v1/query", {"query": "sum(", "time": "10"}),
        ("/api/v1/query", {"query": "up", "time": "x"}),
        ("/api/v1/query", {"query": "up", "timeout": "-1s"}),
        ("/api/v1/query", {"query": "up", "timeout": "1ns"}),
        ("/api/v1/query", {"query": 'label_replace(up, "a", "b", "c", "(")', "time": "10"}),
        ("/api/v1/query", {"query": "rate(up[5m:1m] offset 1h)", "time": "0.5"}),
        ("/api/v1/query", {"query": "sum(rate(node_cpu_seconds_total[5m]))", "time": "3600.5", "timeout": "0.000001"}),
        ("/api/v1/query_range", {"query": "up", "start": "x", "end": "1", "step": "1"}),
        ("/api/v1/query_range", {"query": "up", "start": "1", "end": "x", "step": "1"}),
        ("/api/v1/query_range", {"query": "up", "start": "10", "end": "1", "step": "1"}),
        ("/api/v1/query_range", {"query": "up", "start": "1", "end": "10", "step": "x"}),
        ("/api/v1/query_range", {"query": "up", "start": "1", "end": "10", "step": "0"}),
        ("/api/v1/query_range", {"query": "up", "start": "1", "end": "10", "step": "-5"}),
        ("/api/v1/query_range", {"query": "up", "start": "0", "end": "100000", "step": "1"}),
        ("/api/v1/query_range", {"query": "up[5m]", "start": "0", "end": "100", "step": "10"}),
        ("/api/v1/query_range", {"query": "up", "start": "", "end": "100", "step": "10"}),
        ("/api/v1/series", {}),
        ("/api/v1/series", {"match[]": ['{job=~".*"}']}),
        ("/api/v1/series", {"match[]": ["up"], "start": "x"}),
        ("/api/v1/series", {"match[]": ["up{"]}),
        ("/api/v1/labels", {"match[]": ["sum(up)"]}),
        ("/api/v1/labels", {"end": "yesterday"}),
        ("/api/v1/label/job/values", {"match[]": ['{a=""}']}),
        ("/api/v1/label/job/values", {"start": "x"}),
        ("/api/v1/format_query", {"query": "1 +"}),
        ("/api/v1/no_such_endpoint", {}),
    ]
    for path, params in errors:
        out.append(("error %s %s" % (path, params), path, params, {"parse_errors_loose": "match[]" in params}))
    return out


def cmd_compare(args):
    oracle = load_oracle()
    prom, ferro = Client(args.prom), Client(args.ferro)
    counts = {"queries": 0, "endpoints": 0, "failed": 0}
    failures = []

    def check(label, method, path, params, **opts):
        keys_only = opts.pop("keys_only", False)
        p = prom.request(method, path, params)
        f = ferro.request(method, path, params)
        if keys_only:
            pj, fj = parse(p[1]), parse(f[1])
            d = None if (p[0], sorted(pj.get("data", {}))) == (f[0], sorted(fj.get("data", {}))) else \
                "keys %s vs %s" % (sorted(pj.get("data", {})), sorted(fj.get("data", {})))
        else:
            d = compare_responses(p, f, **opts)
        if d:
            counts["failed"] += 1
            failures.append("%s %s %s: %s" % (method, path, label, d))

    for i, (path, params, ordered) in enumerate(query_requests(oracle, args.queries)):
        counts["queries"] += 1
        check(params["query"], "POST" if i % 2 else "GET", path, params, ordered=ordered)
    for i, (label, path, params, opts) in enumerate(endpoint_requests()):
        counts["endpoints"] += 1
        method = "POST" if i % 2 and not path.startswith(("/api/v1/label/", "/api/v1/status", "/api/v1/rules",
                                                          "/api/v1/alerts")) else "GET"
        check(label, method, path, params, **opts)
    # parse_query: 2.42 lacks it; ferroprom must answer every query of the list with a tree.
    shapes = 0
    for path, params, _ in query_requests(oracle, args.queries):
        s, body = ferro.request("GET", "/api/v1/parse_query", {"query": params["query"]})
        j = parse(body)
        ok = (s == 200 and isinstance(j.get("data"), dict) and "type" in j["data"]) or \
             (s == 400 and j.get("errorType") == "bad_data")
        if not ok:
            counts["failed"] += 1
            failures.append("parse_query %s: %s %s" % (params["query"], s, body[:200]))
        shapes += 1
    for f in failures:
        print("DIFF " + f)
    print("documented 2.42/3.x differences allowed:")
    for what, why in DOCUMENTED:
        print("  - %s (%s)" % (what, why))
    total = counts["queries"] + counts["endpoints"]
    print("interop-serve: %d requests compared with Prometheus (%d query/query_range, %d other endpoints), "
          "%d parse_query trees checked: %d agree, %d differ"
          % (total, counts["queries"], counts["endpoints"], shapes, total + shapes - counts["failed"],
             counts["failed"]))
    return 1 if counts["failed"] else 0


BENCH = [
    ("user story: memory by cluster, range 2h step 60s", "/api/v1/query_range",
     {"query": 'sum(node_memory_MemAvailable_bytes{job="node-exporter"} or (node_memory_Buffers_bytes{job="node-exporter"} + node_memory_Cached_bytes{job="node-exporter"} + node_memory_MemFree_bytes{job="node-exporter"} + node_memory_Slab_bytes{job="node-exporter"})) by (cluster)',
      "start": "600.5", "end": "7190.5", "step": "60"}),
    ("user story: CPU utilisation, range 2h step 60s", "/api/v1/query_range",
     {"query": 'sum(rate(node_cpu_seconds_total{job="node-exporter",mode!="idle",mode!="iowait",mode!="steal"}[5m])) / count(sum(node_cpu_seconds_total{job="node-exporter"}) by (cluster, instance, cpu))',
      "start": "600.5", "end": "7190.5", "step": "60"}),
    ("histogram_quantile over rate, range 2h step 15s", "/api/v1/query_range",
     {"query": "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
      "start": "600.5", "end": "7190.5", "step": "15"}),
    ("rate of every counter, instant", "/api/v1/query", {"query": "rate({__name__=~\".+_total\"}[5m])", "time": "3601.7"}),
    ("vector(1), instant (HTTP overhead)", "/api/v1/query", {"query": "vector(1)", "time": "3601.7"}),
    ("series of every node metric", "/api/v1/series", {"match[]": ['{job="node-exporter"}']}),
]


def cmd_bench(args):
    oracle = load_oracle()
    prom, ferro = Client(args.prom), Client(args.ferro)
    print("| request | Prometheus median (ms) | ferroprom median (ms) | Prometheus p90 | ferroprom p90 |")
    print("| --- | --- | --- | --- | --- |")

    def timed(client, method, path, params):
        t0 = time.perf_counter()
        s, _ = client.request(method, path, params)
        if s != 200:
            raise SystemExit("HTTP %s for %s %s" % (s, path, params))
        return (time.perf_counter() - t0) * 1000

    for label, path, params in BENCH:
        for c in (prom, ferro):
            timed(c, "GET", path, params)  # warm up
        tp, tf = [], []
        for _ in range(args.runs):
            tp.append(timed(prom, "GET", path, params))
            tf.append(timed(ferro, "GET", path, params))
        q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(len(xs) * p))]
        print("| %s | %.2f | %.2f | %.2f | %.2f |" % (label, statistics.median(tp), statistics.median(tf),
                                                     q(tp, 0.9), q(tf, 0.9)))
    reqs = list(query_requests(oracle, args.queries))
    totals = []
    for c in (prom, ferro):
        t0 = time.perf_counter()
        for path, params, _ in reqs:
            c.request("GET", path, params)
        totals.append(time.perf_counter() - t0)
    print("\nthe whole oracle query list (%d requests, one pass each, sequential): Prometheus %.2f s, "
          "ferroprom %.2f s" % (len(reqs), totals[0], totals[1]))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, fn in (("compare", cmd_compare), ("bench", cmd_bench)):
        p = sub.add_parser(name)
        p.add_argument("--prom", required=True)
        p.add_argument("--ferro", required=True)
        p.add_argument("--queries", required=True)
        p.add_argument("--runs", type=int, default=30)
        p.set_defaults(func=fn)
    args = ap.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
