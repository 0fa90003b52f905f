#!/usr/bin/env python3
"""ConvKit vs ncnn on the suite's 3x3 stride-1 convolution layers.

Optional comparator, never part of the test suite.  Needs the `ncnn` Python
module (pip package "ncnn") and numpy.

For every 3x3 stride-1 groups-1 conv layer of Benchmarks/layers.tsv (or those
matching --layers) and every thread count it
  * builds a one-layer ncnn net (Input -> Convolution with random weights and
    bias; .param/.bin written to a temporary directory), fp32 only
    (fp16/bf16 storage, packing and arithmetic off), packing layout on (ncnn's
    default), opt.use_winograd_convolution = True, opt.num_threads = T;
  * times Extractor runs: warm-up, then runs until >= --min-time seconds and
    >= 10 runs; reports median / p10 / p90 and direct-equivalent GFLOPS
    2*N*K*C*R*S*P*Q / t.  ncnn has no batch dimension: a batch-N layer is N
    extractions of one image each inside one timed run;
  * runs ConvKit's peers-bench binary on the same layer right after
    (fastest correct ConvKit algorithm, its own median) and prints both side by
    side with the ratio ConvKit/ncnn (> 1: ConvKit faster).
The first layer's ncnn output is checked against a float64 numpy convolution
(--check-layer picks another), so the comparison is of a correct result.

  python3 Scripts/peers/ncnn_layers.py [--threads 1,2] [--layers REGEX]
        [--min-time 0.2] [--peers-bench PATH] [--no-convkit] [--json FILE]

On a loaded machine ncnn's multi-threaded runs can stall for tens of
milliseconds per run (its OpenMP threads spin while a sibling is descheduled);
running the script with OMP_WAIT_POLICY=passive (inherited by peers-bench, so
both libraries wait the same way) avoids that.  The load average at start and
end is printed.

peers-bench is built when missing:
  cmake -S Benchmarks/peers -B build-peers-wg -DCMAKE_BUILD_TYPE=Release
  cmake --build build-peers-wg -j2
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_suite(path):
    layers = []
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            t = line.split()
            kind, name = t[0], t[1]
            n, c, h, w, k, r, s, stride, pad, groups = map(int, t[2:12])
            if kind != "conv" or r != 3 or s != 3 or stride != 1 or groups != 1:
                continue
            p = h + 2 * pad - r + 1
            q = w + 2 * pad - s + 1
            layers.append(dict(name=name, N=n, C=c, H=h, W=w, K=k, pad=pad, P=p, Q=q,
                               flops=2.0 * n * k * c * r * s * p * q))
    return layers


def write_net(d, L, wts, bias):
    """One Convolution layer: .param (text) and .bin (fp32 weights with the
    4-byte raw-float tag, then the bias)."""
    param = os.path.join(d, "conv.param")
    binp = os.path.join(d, "conv.bin")
    with open(param, "w") as f:
        f.write("7767517\n2 2\n")
        f.write("Input data 0 1 data 0=%d 1=%d 2=%d\n" % (L["W"], L["H"], L["C"]))
        f.write("Convolution conv 1 1 data out 0=%d 1=3 11=3 2=1 12=1 3=1 13=1 4=%d 14=%d 15=%d 16=%d 5=1 6=%d\n"
                % (L["K"], L["pad"], L["pad"], L["pad"], L["pad"], wts.size))
    with open(binp, "wb") as f:
        f.write(struct.pack("<I", 0))  # flag 0: raw float32 weights follow
        f.write(np.ascontiguousarray(wts, dtype=np.float32).tobytes())
        f.write(np.ascontiguousarray(bias, dtype=np.float32).tobytes())
    return param, binp


def make_net(ncnn, param, binp, threads):
    net = ncnn.Net()
    o = net.opt
    o.num_threads = threads
    o.use_winograd_convolution = True
    o.use_packing_layout = True
    for attr in ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage",
                 "use_bf16_packed", "use_int8_inference", "use_vulkan_compute"):
        if hasattr(o, attr):
            setattr(o, attr, False)
    if net.load_param(param) != 0 or net.load_model(binp) != 0:
        raise RuntimeError("ncnn: loading the one-layer net failed")
    return net


def run_once(ncnn, net, mats):
    outs = []
    for m in mats:
        ex = net.create_extractor()
        ex.input("data", m)
        ret, out = ex.extract("out")
        if ret != 0:
            raise RuntimeError("ncnn extract failed: %d" % ret)
        outs.append(out)
    return outs


def time_runs(fn, min_time, min_runs=10):
    fn()  # warm-up (also the first-run pipeline work)
    fn()
    ts = []
    start = time.perf_counter()
    while len(ts) < min_runs or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        if len(ts) >= 100000:
            break
    ts.sort()
    pick = lambda f: ts[min(len(ts) - 1, int(f * len(ts)))]
    return dict(runs=len(ts), median_ms=pick(0.5) * 1e3, p10_ms=pick(0.1) * 1e3, p90_ms=pick(0.9) * 1e3)


def numpy_conv(x, w, b, pad):
    """float64 3x3 stride-1 convolution of one image x[C][H][W]."""
    C, H, W = x.shape
    K = w.shape[0]
    xp = np.zeros((C, H + 2 * pad, W + 2 * pad))
    xp[:, pad:pad + H, pad:pad + W] = x
    P, Q = H + 2 * pad - 2, W + 2 * pad - 2
    y = np.zeros((K, P, Q)) + b[:, None, None]
    w64 = w.astype(np.float64)
    for r in range(3):
        for s in range(3):
            y += np.einsum("kc,cpq->kpq", w64[:, :, r, s], xp[:, r:r + P, s:s + Q])
    return y


def check_ncnn(ncnn, L, threads, tmp):
    rng = np.random.default_rng(7)
    w = rng.uniform(-1, 1, (L["K"], L["C"], 3, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, L["K"]).astype(np.float32)
    x = rng.uniform(-1, 1, (L["C"], L["H"], L["W"])).astype(np.float32)
    param, binp = write_net(tmp, L, w, b)
    net = make_net(ncnn, param, binp, threads)
    xm = ncnn.Mat(x)  # wraps x's memory (x stays alive)
    out = np.array(run_once(ncnn, net, [xm])[0])
    ref = numpy_conv(x.astype(np.float64), w, b.astype(np.float64), L["pad"])
    scale = numpy_conv(np.abs(x.astype(np.float64)), np.abs(w), np.abs(b.astype(np.float64)), L["pad"])
    if out.shape != ref.shape:
        return False, "shape %s vs numpy %s" % (out.shape, ref.shape)
    ratio = float(np.max(np.abs(out - ref) / scale))
    # same discipline as ConvKit's F(4x4) bound: |err| <= 2e-5 * sum|w*x| (+|b|)
    return ratio <= 2e-5, "max |err|/(sum|w*x|+|b|) = %.3g (bound 2e-5)" % ratio


def time_ncnn(ncnn, L, threads, min_time, tmp):
    rng = np.random.default_rng(1)
    w = rng.uniform(-1, 1, (L["K"], L["C"], 3, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, L["K"]).astype(np.float32)
    param, binp = write_net(tmp, L, w, b)
    net = make_net(ncnn, param, binp, threads)
    # ncnn.Mat(ndarray) wraps the array's memory without copying: keep the arrays alive
    arrays = [rng.uniform(-1, 1, (L["C"], L["H"], L["W"])).astype(np.float32) for _ in range(L["N"])]
    mats = [ncnn.Mat(a) for a in arrays]
    t = time_runs(lambda: run_once(ncnn, net, mats), min_time)
    del mats, arrays
    t["gflops"] = L["flops"] / (t["median_ms"] * 1e6)
    return t


def ensure_peers_bench(path):
    if os.path.exists(path):
        return path
    build = os.path.dirname(path)
    print("# building peers-bench in %s" % build, file=sys.stderr)
    subprocess.run(["cmake", "-S", os.path.join(ROOT, "Benchmarks", "peers"), "-B", build,
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build, "-j2"], check=True, stdout=subprocess.DEVNULL)
    return path


def convkit_layer(bench, L, threads, min_time, tmp):
    """Fastest correct ConvKit result per thread count for one layer."""
    jpath = os.path.join(tmp, "ck.json")
    cmd = [bench, "--threads", ",".join(map(str, threads)), "--layers", "^%s$" % re.escape(L["name"]),
           "--min-time", str(min_time), "--json", jpath]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(jpath) as f:
        data = json.load(f)
    best = {}
    for row in data["results"]:
        if row["layer"] != L["name"]:
            continue
        cands = [r for r in row["impls"] if r["impl"] == "convkit" and r.get("available") and r.get("correct")
                 and "median_ms" in r]
        if cands:
            r = min(cands, key=lambda r: r["median_ms"])
            best[row["threads"]] = dict(algorithm=r["algorithm"] + "/" + r["layout"], median_ms=r["median_ms"],
                                        p10_ms=r["p10_ms"], p90_ms=r["p90_ms"],
                                        gflops=L["flops"] / (r["median_ms"] * 1e6))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", default=os.path.join(ROOT, "Benchmarks", "layers.tsv"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--layers", default="", help="regex on the layer name")
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--peers-bench", default=os.path.join(ROOT, "build-peers-wg", "peers-bench"))
    ap.add_argument("--no-convkit", action="store_true", help="ncnn only")
    ap.add_argument("--check-layer", default="resnet18.l4.3x3", help="layer whose ncnn output is checked by numpy")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    try:
        import ncnn
    except ImportError:
        sys.exit("ncnn_layers.py: the ncnn Python module is not installed (pip install ncnn)")
    threads = [int(t) for t in a.threads.split(",")]
    layers = [L for L in read_suite(a.suite) if not a.layers or re.search(a.layers, L["name"])]
    if not layers:
        sys.exit("no 3x3 stride-1 layer matches '%s'" % a.layers)
    bench = None if a.no_convkit else ensure_peers_bench(a.peers_bench)
    load0 = os.getloadavg()[0]
    print("# ncnn %s, load average at start %.2f, OMP_WAIT_POLICY=%s" % (
        getattr(ncnn, "__version__", "?"), load0, os.environ.get("OMP_WAIT_POLICY", "(default)")))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        chk = next((L for L in layers if L["name"] == a.check_layer), layers[0])
        ok, msg = check_ncnn(ncnn, chk, threads[0], tmp)
        print("# ncnn output vs numpy float64 on %s: %s %s" % (chk["name"], "ok" if ok else "MISMATCH", msg))
        hdr = "%-20s %3s %10s %10s %10s %10s %8s  %s" % ("layer", "thr", "ncnn_ms", "ncnn_GF", "ck_ms", "ck_GF",
                                                         "ck/ncnn", "convkit algorithm")
        print(hdr)
        for L in layers:
            nc = {t: time_ncnn(ncnn, L, t, a.min_time, tmp) for t in threads}
            ck = convkit_layer(bench, L, threads, a.min_time, tmp) if bench else {}
            for t in threads:
                c = ck.get(t)
                ratio = nc[t]["median_ms"] / c["median_ms"] if c else None
                print("%-20s %3d %10.3f %10.1f %10s %10s %8s  %s" % (
                    L["name"], t, nc[t]["median_ms"], nc[t]["gflops"],
                    "%.3f" % c["median_ms"] if c else "-", "%.1f" % c["gflops"] if c else "-",
                    "%.2f" % ratio if ratio else "-", c["algorithm"] if c else ""))
                sys.stdout.flush()
                rows.append(dict(layer=L["name"], threads=t, batch=L["N"], flops=L["flops"], ncnn=nc[t], convkit=c,
                                 ratio_convkit_ncnn=ratio))
    load1 = os.getloadavg()[0]
    print("# load average at end %.2f" % load1)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(header=dict(ncnn=getattr(ncnn, "__version__", "?"), load_average_at_start=load0,
                                       load_average_at_end=load1, min_time_s=a.min_time,
                                       ncnn_check=dict(layer=chk["name"], ok=ok, detail=msg)),
                           results=rows), f, indent=1)


if __name__ == "__main__":
    main()
