#!/usr/bin/env python3
"""Generates testdata/gomath/*.txt: expected results of Go's math functions, taken from a real Prometheus.

For every function PromQL evaluates with Go's `math` package (exp, ln, log2, log10, the trigonometric and
hyperbolic functions and their inverses, deg, rad, and the operators `^`, `atan2`, `%`), this script asks a
Prometheus server for the results over a few thousand inputs (edge cases and seeded random values) and
writes them as one case per line:

    exp(3.1) = 22.197951281441632
    pow(0.1, 1.37) = 0.042657951880159264

Inputs and results are written as the shortest decimal that reads back as the same float64 (Python's repr;
Prometheus itself prints with Go's strconv 'f' -1, which also reads back exactly), so every case is exact to
the bit. `NaN`, `+Inf`, `-Inf` and `-0.0` are written as such.

The server is Debian's prometheus 2.42 (built with go1.19.8), started on 127.0.0.1 by
../shared/tools/oracle/prom_oracle.py `serve` and stopped by its PID. Usage, from the repository root:

    python3 bench/gomath_cases.py                  # writes testdata/gomath/*.txt
    GODEBUG=cpu.fma=off python3 bench/gomath_cases.py --only exp --suffix=-nofma
                                                   # Go's Exp without FMA (CPUs without AVX2+FMA)

The inputs are deterministic (fixed seed), so a rerun against the same Prometheus gives the same files.
"""

import argparse
import json
import math
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ORACLE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tools", "oracle", "prom_oracle.py")
OUT_DIR = os.path.join(os.path.dirname(__file__), "..", "testdata", "gomath")
BATCH = 150

UNARY = ["exp", "ln", "log2", "log10", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
         "asinh", "acosh", "atanh", "deg", "rad", "sqrt"]
BINARY = {"pow": "^", "atan2": "atan2", "mod": "%"}


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def from_bits(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def fmt(x):
    """Exact, shortest text for a float64 (what the Rust test parses)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(x)


def promql_num(x):
    """A PromQL expression for the float64 x, exact (number literals go through strconv.ParseFloat)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "(Inf)" if x > 0 else "(-Inf)"
    if x == 0 and math.copysign(1, x) < 0:
        return "(-0)"
    s = repr(x)
    return "(%s)" % s if x < 0 else s


def neighbours(x, n=2):
    """x and the n float64s on each side of it (same sign)."""
    out = [x]
    b = bits(abs(x))
    for d in range(1, n + 1):
        for nb in (b - d, b + d):
            if 0 <= nb < 0x7FF0000000000000:
                out.append(math.copysign(from_bits(nb), x))
    return out


def special_values():
    vals = [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -5e-324, 2.2250738585072009e-308,
            2.2250738585072014e-308, 1e-310, -1e-310, 3.5e-320, 1e-300, 1e-200, 1e-100, 1e-20, 1e-10, 1e-5,
            0.001, 0.1, 0.2, 0.3, 0.5, 0.625, 0.66, 0.7, 0.75, 0.8, 0.9, 0.99, 0.999999, 1.0, 1.5, 2.0, 2.5,
            3.0, 3.1, 2.3, 10.0, 21.0, 44.0, 100.0, 1e3, 1e6, 1e9, 1e15, 1e16, 1e22, 1e100, 1e300,
            1.7976931348622157e308, 4.0, 8.0, 0.25, 0.125, 1024.0, 2.0 ** 52, 2.0 ** 53]
    # thresholds of the algorithms: 2**-28, 2**-29, 2**-54, 2**28, 2**29 (Payne-Hanek), 0.5*MAXLOG, exp limits
    for t in [2.0 ** -28, 2.0 ** -29, 2.0 ** -54, 2.0 ** 28, 2.0 ** 29, 2.0 ** 30, 44.014845965556525,
              709.782712893384, 709.78, 709.0, 708.0, 700.0, 745.13321910194111, 744.0, 740.0, 730.0, 720.0,
              1074.0, 1023.0, 1022.0, 0.625, 0.66, 0.7, 2.414213562373095, 0.41421356237309503,
              0.7071067811865476, 1.4142135623730951, 0.34657359027997264, 0.6931471805599453, 1e-14 ** 0.5]:
        for v in neighbours(t, 2):
            vals += [v, -v]
    # near multiples of pi/4, pi/2 and pi
    for k in list(range(1, 40)) + [100, 1000, 12345, 10 ** 6, 2 ** 20, 2 ** 27 - 1, 2 ** 28 + 3]:
        for v in neighbours(k * math.pi / 4, 1):
            vals += [v, -v]
    for k in [1e10, 1e12, 1e18, 1e20, 1e50, 1e200, 1e308]:
        vals += [k, -k, k * math.pi, 1.0 / k]
    # powers of two (log2 exactness, frexp) and sqrt(2) multiples (log reduction boundary)
    for e in range(-1074, 1024, 37):
        vals += [2.0 ** e, 1.4142135623730951 * 2.0 ** e if e < 1023 else 1.0, 0.7071067811865476 * 2.0 ** e]
    return vals


def random_values(rng, n):
    vals = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.3:
            v = rng.uniform(-10, 10)
        elif kind < 0.45:
            v = rng.uniform(-1, 1)
        elif kind < 0.85:
            v = math.copysign(10 ** rng.uniform(-12, 12), rng.random() - 0.5)
        elif kind < 0.95:
            v = math.copysign(10 ** rng.uniform(-308, 308), rng.random() - 0.5)
        else:
            v = from_bits(rng.getrandbits(64))
            if math.isnan(v) or math.isinf(v):
                v = 1.0
        vals.append(v)
    return vals


def unary_inputs(fn, rng):
    vals = special_values() + random_values(rng, 300)
    if fn in ("exp", "sinh", "cosh", "tanh"):
        vals += [rng.uniform(-750, 712) for _ in range(200)]
        vals += [rng.uniform(-50, 50) for _ in range(150)]
    elif fn in ("asin", "acos", "atanh"):
        vals += [rng.uniform(-1, 1) for _ in range(250)] + [math.copysign(1 - 10 ** rng.uniform(-16, -1),
                                                                          rng.random() - 0.5) for _ in range(100)]
    elif fn in ("acosh",):
        vals += [1 + 10 ** rng.uniform(-16, 1) for _ in range(200)] + [rng.uniform(1, 100) for _ in range(150)]
    elif fn in ("sin", "cos", "tan"):
        vals += [rng.uniform(-100, 100) for _ in range(150)] + [10 ** rng.uniform(8, 20) for _ in range(150)]
        vals += [rng.randint(1, 10 ** 6) * math.pi / 2 for _ in range(100)]
    elif fn in ("ln", "log2", "log10"):
        vals += [10 ** rng.uniform(-320, 308) for _ in range(200)] + [rng.uniform(0.5, 2) for _ in range(150)]
    else:
        vals += random_values(rng, 150)
    return dedup(vals)


def binary_inputs(fn, rng):
    xs = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 0.1, 10.0, 1e-300, 1e300,
          5e-324, 3.0, -3.0, 1.5, 100.0, 0.999, 1.001]
    pairs = [(x, y) for x in xs for y in xs]
    if fn == "pow":
        ys = [0.5, -0.5, 1.37, 2.0, 3.0, -1.0, 7.0, 10.0, 0.3333333333333333, 1e-3, 1e10, 2.0 ** 63, 2.0 ** 64,
              1023.0, 1024.0, -1074.0, 53.0, 2.5, 127.0, 128.0, 255.0, -128.0, -129.0]
        pairs += [(x, y) for x in xs for y in ys]
        for _ in range(1000):
            k = rng.random()
            if k < 0.35:
                pairs.append((rng.uniform(0, 10), rng.uniform(-10, 10)))
            elif k < 0.55:
                pairs.append((rng.uniform(-10, 10), float(rng.randint(-40, 40))))
            elif k < 0.75:
                pairs.append((10 ** rng.uniform(-10, 10), rng.uniform(-30, 30)))
            elif k < 0.9:
                pairs.append((rng.uniform(0.9, 1.1), 10 ** rng.uniform(0, 5)))
            else:
                pairs.append((10 ** rng.uniform(-300, 300), rng.uniform(-3, 3)))
    elif fn == "atan2":
        for _ in range(800):
            k = rng.random()
            if k < 0.5:
                pairs.append((rng.uniform(-10, 10), rng.uniform(-10, 10)))
            else:
                pairs.append((math.copysign(10 ** rng.uniform(-30, 30), rng.random() - 0.5),
                              math.copysign(10 ** rng.uniform(-30, 30), rng.random() - 0.5)))
    else:  # mod
        for _ in range(300):
            pairs.append((math.copysign(10 ** rng.uniform(-5, 30), rng.random() - 0.5),
                          math.copysign(10 ** rng.uniform(-5, 5), rng.random() - 0.5)))
    out, seen = [], set()
    for x, y in pairs:
        key = (bits(x), bits(y))
        if key not in seen:
            seen.add(key)
            out.append((x, y))
    return out


def dedup(vals):
    out, seen = [], set()
    for v in vals:
        b = bits(v)
        if b not in seen:
            seen.add(b)
            out.append(v)
    return out


def query(url, q):
    body = urllib.parse.urlencode({"query": q, "time": "100"}).encode()
    req = urllib.request.Request(url + "/api/v1/query", data=body,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=120) as r:
        data = json.loads(r.read().decode())
    if data.get("status") != "success":
        raise RuntimeError("query failed: %s\n%s" % (data, q[:500]))
    return {int(e["metric"]["i"]): float(e["value"][1]) for e in data["data"]["result"]}


def tagged(i, expr):
    return 'label_replace(%s, "i", "%d", "", "")' % (expr, i)


def eval_unary(url, fn, xs):
    res = []
    for start in range(0, len(xs), BATCH):
        chunk = xs[start:start + BATCH]
        union = " or ".join(tagged(i, "vector(%s)" % promql_num(x)) for i, x in enumerate(chunk))
        got = query(url, "%s(%s)" % (fn, union))
        res += [(x, got[i]) for i, x in enumerate(chunk)]
    return res


def eval_binary(url, op, pairs):
    res = []
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start:start + BATCH]
        union = " or ".join("(%s %s %s)" % (tagged(i, "vector(%s)" % promql_num(x)), op, promql_num(y))
                            for i, (x, y) in enumerate(chunk))
        got = query(url, union)
        # A NaN result of `%`/`^` is still a sample; a missing one would be a bug of this script.
        res += [((x, y), got[i]) for i, (x, y) in enumerate(chunk)]
    return res


def start_server(work):
    load = os.path.join(work, "empty.load")
    with open(load, "w") as f:
        f.write("load 1m\n  gomath_dummy 1\n")
    ready = os.path.join(work, "ready.json")
    proc = subprocess.Popen([sys.executable, ORACLE, "serve", "--data", load, "--ready-file", ready,
                             "--work-dir", work], stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    for _ in range(600):
        if os.path.exists(ready) and os.path.getsize(ready) > 0:
            try:
                with open(ready) as f:
                    return proc, json.load(f)["url"]
            except ValueError:
                pass
        if proc.poll() is not None:
            raise RuntimeError("prom_oracle.py serve exited")
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    raise RuntimeError("server not ready")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma list of functions (default: all)")
    ap.add_argument("--suffix", default="", help="file name suffix, e.g. -nofma")
    ap.add_argument("--out-dir", default=OUT_DIR)
    args = ap.parse_args()
    fns = UNARY + list(BINARY)
    if args.only:
        fns = [f for f in fns if f in args.only.split(",")]
    version = subprocess.run(["prometheus", "--version"], capture_output=True, text=True).stdout.splitlines()
    os.makedirs(args.out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        proc, url = start_server(work)
        try:
            for fn in fns:
                rng = random.Random("gomath-" + fn)
                if fn in BINARY:
                    rows = ["%s(%s, %s) = %s" % (fn, fmt(x), fmt(y), fmt(r))
                            for (x, y), r in eval_binary(url, BINARY[fn], binary_inputs(fn, rng))]
                else:
                    rows = ["%s(%s) = %s" % (fn, fmt(x), fmt(r)) for x, r in eval_unary(url, fn, unary_inputs(fn, rng))]
                path = os.path.join(args.out_dir, fn + args.suffix + ".txt")
                with open(path, "w") as f:
                    f.write("# %s: Go's math as evaluated by %s%s; generated by bench/gomath_cases.py\n"
                            % (fn, version[0] if version else "prometheus",
                               " with GODEBUG=" + os.environ["GODEBUG"] if os.environ.get("GODEBUG") else ""))
                    f.write("\n".join(rows) + "\n")
                print("%s: %d cases -> %s" % (fn, len(rows), path), flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)  # our own child; it stops the server it started
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
