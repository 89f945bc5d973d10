"""Checks that oracle mismatches come from the 2.51 change in rate()/increase() extrapolation (#13725).

Usage (from the repository root, after `.ci/oracle --keep DIR`):
  python3 testdata/oracle/explain_rate_diffs.py DIR/stale.load DIR/stale.main.compare.txt [N]
For each mismatch in the compare output it takes the N-th (default first) rate()/increase() call of the
query, computes every matching series with the 2.42 and the 3.x extrapolation from the raw data, asks the
oracle and ferroprom for that call alone at the mismatching point, and prints EXPLAINED when exactly the
series whose two formulas differ are the ones where the answers differ, each side equal to its formula.
"""
import importlib.util, json, math, os, re, subprocess, sys, tempfile
ORACLE = "../shared/tools/oracle/prom_oracle.py"
ANSWERS = "target/release/examples/oracle_answers"
TMP = tempfile.mkdtemp()
spec = importlib.util.spec_from_file_location("po", ORACLE)
po = importlib.util.module_from_spec(spec); spec.loader.exec_module(po)
data, cmp_out = sys.argv[1], sys.argv[2]
ds = po.parse_promqltest(open(data).read())[-1].dataset

def extrap(pts, t, r, is_rate, v3):
    if len(pts) < 2: return None
    res = pts[-1][1] - pts[0][1]
    for (a, b) in zip(pts, pts[1:]):
        if b[1] < a[1]: res += a[1]
    ds_ = (pts[0][0] - (t - r)) / 1000; de = (t - pts[-1][0]) / 1000
    si = (pts[-1][0] - pts[0][0]) / 1000; avg = si / (len(pts) - 1); thr = avg * 1.1
    if v3:
        if ds_ >= thr: ds_ = avg / 2
        if res > 0 and pts[0][1] >= 0: ds_ = min(ds_, si * (pts[0][1] / res))
        ext = si + ds_
    else:
        if res > 0 and pts[0][1] >= 0: ds_ = min(ds_, si * (pts[0][1] / res))
        ext = si + (ds_ if ds_ < thr else avg / 2)
    ext += de if de < thr else avg / 2
    f = ext / si
    if is_rate: f /= r / 1000
    return res * f

def match(labels, sel):
    for name, op, val in re.findall(r'(\w+)\s*(=~|!=|=)\s*"([^"]*)"', sel or ""):
        v = labels.get(name, "")
        if op == "=" and v != val: return False
        if op == "!=" and v == val: return False
        if op == "=~" and not re.fullmatch(val, v): return False
    return True

queries, expl = [], []
for line in open(cmp_out):
    if not line.startswith("{"): continue
    rec = json.loads(line)
    t = float(re.search(r"@([0-9.]+)$", rec["problem"]).group(1))
    ms = re.findall(r"\b(rate|increase)\((\w+)(\{[^}]*\})?\[(\d+)m\]", rec["query"])
    fn, metric, sel, mins = ms[int(sys.argv[3]) if len(sys.argv) > 3 and len(ms) > 1 else 0]
    t_ms, r_ms = round(t * 1000), int(mins) * 60000
    inner = "%s(%s%s[%sm])" % (fn, metric, sel or "", mins)
    affected = {}
    for key, samples in ds.series.items():
        labels = dict(key)
        if labels.get("__name__") != metric or not match(labels, sel): continue
        pts = [(ts, v) for ts, v in samples if t_ms - r_ms < ts <= t_ms and v is not po.STALE]
        a, b = extrap(pts, t_ms, r_ms, fn == "rate", False), extrap(pts, t_ms, r_ms, fn == "rate", True)
        if a is not None and not po.almost_equal(a, b, 1e-9):
            affected[tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))] = (a, b)
    queries.append({"query": inner, "time": t})
    expl.append((rec, inner, t, affected))
json.dump(queries, open(os.path.join(TMP, "vq.json"), "w"))
subprocess.run(["python3", ORACLE, "run", "--data", data, "--queries", os.path.join(TMP, "vq.json"), "--out", os.path.join(TMP, "vo.jsonl")], check=True, stderr=subprocess.DEVNULL)
subprocess.run([ANSWERS, "--data", data, "--queries", os.path.join(TMP, "vq.json"), "--out", os.path.join(TMP, "vf.jsonl")], check=True, stderr=subprocess.DEVNULL)
O = [json.loads(l) for l in open(os.path.join(TMP, "vo.jsonl"))]; F = [json.loads(l) for l in open(os.path.join(TMP, "vf.jsonl"))]
for (rec, inner, t, affected), o, f in zip(expl, O, F):
    ov = {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in o["result"]}
    fv = {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in f["result"]}
    diff = {k for k in ov if not po.almost_equal(ov[k], fv.get(k, math.nan), 1e-9)}
    ok = bool(diff) and diff == set(affected) and all(
        po.almost_equal(ov[k], affected[k][0], 1e-9) and po.almost_equal(fv[k], affected[k][1], 1e-9) for k in diff)
    print("EXPLAINED" if ok else "NOT EXPLAINED", rec["kind"], rec.get("time") or rec.get("range"), "@", t, inner, len(diff), "series", rec["query"][:70])
