#!/usr/bin/env python3
"""End-to-end peer comparison for ConvKit's compiled networks (optional tool,
never part of the test suite).

Builds ResNet-18 and MobileNetV2 (224x224, random weights, the same
architecture as ConvKit's zoo: batch norm folded into the convolutions, as
every engine does at inference) and times, in one interleaved run:

* onnxruntime (model built with onnx.helper), intra_op_num_threads = 1 and 2,
  inter_op 1, sequential execution, all graph optimisations;
* ncnn (Python wheel; the .param/.bin are written directly by this script —
  ncnn's text format is simple — so no converter is needed), num_threads 1, 2;
* ConvKit: `convkit bench --model NAME --threads 1,2 --json FILE` (release build).

Each round runs every engine once per model and thread count (interleaved, so
load changes hit all engines alike); the reported figure is the median over all
rounds of the per-call latency (onnxruntime/ncnn: every timed call; ConvKit: the
per-round medians it reports, each over >= 10 runs and >= 1 s).

Setup:  pip install onnx onnxruntime numpy ncnn
        swift build -c release --scratch-path .build-model
Usage:  python3 Scripts/peers/model_peers.py [--rounds 3] [--runs 20] [--threads 1,2]
                                             [--models resnet18,mobilenetv2] [--convkit PATH] [--no-ncnn]
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# ---------------------------------------------------------------- networks (a tiny IR)
# op tuples: ("conv", name, inp, out, cin, cout, k, stride, pad, groups, act)   act in {None, "relu", "relu6"}
#            ("add", name, a, b, out, act)  ("maxpool", name, inp, out, k, s, p)
#            ("gap", name, inp, out)  ("fc", name, inp, out, cin, cout)


def resnet18():
    ops, x, c = [], "data", 3
    ops.append(("conv", "conv1", x, "conv1", 3, 64, 7, 2, 3, 1, "relu"))
    ops.append(("maxpool", "maxpool", "conv1", "pool1", 3, 2, 1))
    x, c = "pool1", 64
    for stage, planes in enumerate([64, 128, 256, 512]):
        for b in range(2):
            p = f"layer{stage + 1}.{b}"
            s = 2 if b == 0 and stage > 0 else 1
            ops.append(("conv", p + ".conv1", x, p + ".y1", c, planes, 3, s, 1, 1, "relu"))
            ops.append(("conv", p + ".conv2", p + ".y1", p + ".y2", planes, planes, 3, 1, 1, 1, None))
            short = x
            if s != 1 or c != planes:
                ops.append(("conv", p + ".down", x, p + ".ds", c, planes, 1, s, 0, 1, None))
                short = p + ".ds"
            ops.append(("add", p + ".add", p + ".y2", short, p + ".out", "relu"))
            x, c = p + ".out", planes
    ops.append(("gap", "avgpool", x, "gap"))
    ops.append(("fc", "fc", "gap", "output", 512, 1000))
    return ops


def mobilenetv2():
    ops = [("conv", "stem", "data", "stem", 3, 32, 3, 2, 1, 1, "relu6")]
    x, c, i = "stem", 32, 1
    for t, cout, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                          (6, 160, 3, 2), (6, 320, 1, 1)]:
        for j in range(n):
            p, stride, y = f"f{i}", (s if j == 0 else 1), x
            hid = c * t
            if t != 1:
                ops.append(("conv", p + ".expand", y, p + ".e", c, hid, 1, 1, 0, 1, "relu6"))
                y = p + ".e"
            ops.append(("conv", p + ".dw", y, p + ".d", hid, hid, 3, stride, 1, hid, "relu6"))
            ops.append(("conv", p + ".project", p + ".d", p + ".p", hid, cout, 1, 1, 0, 1, None))
            y = p + ".p"
            if stride == 1 and c == cout:
                ops.append(("add", p + ".add", y, x, p + ".out", None))
                y = p + ".out"
            x, c, i = y, cout, i + 1
    ops.append(("conv", "last", x, "last", c, 1280, 1, 1, 0, 1, "relu6"))
    ops.append(("gap", "avgpool", "last", "gap"))
    ops.append(("fc", "classifier", "gap", "output", 1280, 1000))
    return ops


NETWORKS = {"resnet18": resnet18, "mobilenetv2": mobilenetv2}


def weights(ops, seed=0):
    """He-scaled random weights and small biases per conv/fc, shared by every engine."""
    rng = np.random.default_rng(seed)
    w = {}
    for op in ops:
        if op[0] == "conv":
            _, name, _, _, cin, cout, k, _, _, g, _ = op
            fan = cin // g * k * k
            w[name] = ((rng.standard_normal((cout, cin // g, k, k)) * np.sqrt(2 / fan)).astype(np.float32),
                       (rng.standard_normal(cout) * 0.01).astype(np.float32))
        elif op[0] == "fc":
            _, name, _, _, cin, cout = op
            w[name] = ((rng.standard_normal((cout, cin)) * np.sqrt(1 / cin)).astype(np.float32),
                       np.zeros(cout, np.float32))
    return w


# ---------------------------------------------------------------- onnx
def onnx_model(ops, w, size):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes, inits = [], []

    def act(kind, inp, out):
        if kind == "relu":
            nodes.append(helper.make_node("Relu", [inp], [out]))
        elif kind == "relu6":
            nodes.append(helper.make_node("Clip", [inp, "c0", "c6"], [out]))
    inits += [numpy_helper.from_array(np.array(0, np.float32), "c0"),
              numpy_helper.from_array(np.array(6, np.float32), "c6")]
    for op in ops:
        if op[0] == "conv":
            _, name, inp, out, cin, cout, k, s, p, g, a = op
            inits += [numpy_helper.from_array(w[name][0], name + ".w"), numpy_helper.from_array(w[name][1], name + ".b")]
            mid = out if a is None else out + ".pre"
            nodes.append(helper.make_node("Conv", [inp, name + ".w", name + ".b"], [mid], kernel_shape=[k, k],
                                          strides=[s, s], pads=[p] * 4, group=g))
            act(a, mid, out)
        elif op[0] == "add":
            _, name, a_, b_, out, a = op
            mid = out if a is None else out + ".pre"
            nodes.append(helper.make_node("Add", [a_, b_], [mid]))
            act(a, mid, out)
        elif op[0] == "maxpool":
            _, name, inp, out, k, s, p = op
            nodes.append(helper.make_node("MaxPool", [inp], [out], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4))
        elif op[0] == "gap":
            nodes.append(helper.make_node("GlobalAveragePool", [op[2]], [op[3] + ".4d"]))
            nodes.append(helper.make_node("Flatten", [op[3] + ".4d"], [op[3]]))
        elif op[0] == "fc":
            _, name, inp, out, cin, cout = op
            inits += [numpy_helper.from_array(w[name][0], name + ".w"), numpy_helper.from_array(w[name][1], name + ".b")]
            nodes.append(helper.make_node("Gemm", [inp, name + ".w", name + ".b"], [out], transB=1))
    graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1000])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def ort_session(model_bytes, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    return lambda x: sess.run(None, {"data": x})[0]


# ---------------------------------------------------------------- ncnn
def ncnn_files(ops, w, size, directory, tag):
    """Writes <tag>.param/.bin in ncnn's format (Split layers for blobs used twice)."""
    uses = {}
    for op in ops:
        ins = [op[2], op[3]] if op[0] == "add" else [op[2]]
        for i in ins:
            uses[i] = uses.get(i, 0) + 1
    lines, blobs, binary = [], set(), bytearray()
    pending = {}  # blob -> list of split outputs still to hand out

    def take(blob):
        if blob in pending:
            return pending[blob].pop(0)
        return blob

    def produce(kind, name, ins, out, params):
        lines.append(f"{kind:<24} {name:<24} {len(ins)} 1 " + " ".join(ins + [out]) + (" " + params if params else ""))
        blobs.update(ins + [out])
        if uses.get(out, 0) > 1:
            outs = [f"{out}_s{i}" for i in range(uses[out])]
            lines.append(f"{'Split':<24} {'split_' + out:<24} 1 {len(outs)} {out} " + " ".join(outs))
            blobs.update(outs)
            pending[out] = outs
    lines.append(f"{'Input':<24} {'data':<24} 0 1 data 0={size} 1={size} 2=3")
    blobs.add("data")
    if uses.get("data", 0) > 1:
        raise ValueError("input used twice")
    relu6 = "9=3 -23310=2,0.000000e+00,6.000000e+00"
    for op in ops:
        if op[0] == "conv":
            _, name, inp, out, cin, cout, k, s, p, g, a = op
            wt, b = w[name]
            actp = {None: "", "relu": "9=1", "relu6": relu6}[a]
            if g == 1:
                produce("Convolution", name, [take(inp)], out,
                        f"0={cout} 1={k} 3={s} 4={p} 5=1 6={wt.size} {actp}".strip())
            else:
                produce("ConvolutionDepthWise", name, [take(inp)], out,
                        f"0={cout} 1={k} 3={s} 4={p} 5=1 6={wt.size} 7={g} {actp}".strip())
            binary += struct.pack("<I", 0) + wt.tobytes() + b.tobytes()
        elif op[0] == "add":
            _, name, a_, b_, out, a = op
            if a is None:
                produce("BinaryOp", name, [take(a_), take(b_)], out, "0=0")
            else:
                produce("BinaryOp", name, [take(a_), take(b_)], out + ".pre", "0=0")
                produce("ReLU", name + ".relu", [out + ".pre"], out, "")
        elif op[0] == "maxpool":
            _, name, inp, out, k, s, p = op
            produce("Pooling", name, [take(inp)], out, f"0=0 1={k} 2={s} 3={p} 5=1")
        elif op[0] == "gap":
            produce("Pooling", op[1], [take(op[2])], op[3], "0=1 4=1")
        elif op[0] == "fc":
            _, name, inp, out, cin, cout = op
            wt, b = w[name]
            produce("InnerProduct", name, [take(inp)], out, f"0={cout} 1=1 2={wt.size}")
            binary += struct.pack("<I", 0) + wt.tobytes() + b.tobytes()
    param = os.path.join(directory, tag + ".param")
    with open(param, "w") as f:
        f.write("7767517\n%d %d\n" % (len(lines), len(blobs)) + "\n".join(lines) + "\n")
    model = os.path.join(directory, tag + ".bin")
    with open(model, "wb") as f:
        f.write(bytes(binary))
    return param, model


def ncnn_runner(param, model, threads):
    import ncnn
    net = ncnn.Net()
    net.opt.num_threads = threads
    net.opt.lightmode = True
    if net.load_param(param) != 0 or net.load_model(model) != 0:
        raise RuntimeError("ncnn could not load " + param)

    def run(x):
        ex = net.create_extractor()
        ex.input("data", ncnn.Mat(x[0]))
        ret, out = ex.extract("output")
        if ret != 0:
            raise RuntimeError("ncnn extract failed")
        return np.array(out).reshape(1, -1)
    run.net = net  # keep the net alive
    return run


# ---------------------------------------------------------------- timing
def time_calls(fn, x, runs, warmup=3):
    for _ in range(warmup):
        fn(x)
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(x)
        out.append((time.perf_counter() - t) * 1000)
    return out


def convkit_round(binary, model, threads):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    try:
        subprocess.run([binary, "bench", "--model", model, "--threads", ",".join(map(str, threads)), "--json", path],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(path) as f:
            return json.load(f)
    finally:
        os.unlink(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="resnet18,mobilenetv2")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20, help="timed calls per peer, round and thread count")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--convkit", default=os.path.join(REPO, ".build-model", "release", "convkit"))
    ap.add_argument("--no-ncnn", action="store_true")
    ap.add_argument("--json", help="write all samples as JSON")
    args = ap.parse_args()
    models = args.models.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    use_ncnn = not args.no_ncnn
    if use_ncnn:
        try:
            import ncnn  # noqa: F401
        except ImportError:
            print("ncnn not installed (pip install ncnn): skipping it", file=sys.stderr)
            use_ncnn = False
    if not os.access(args.convkit, os.X_OK):
        sys.exit(f"no convkit binary at {args.convkit}: swift build -c release --scratch-path .build-model")

    tmp = tempfile.mkdtemp(prefix="convkit-peers-")
    x = np.random.default_rng(1).standard_normal((1, 3, args.size, args.size)).astype(np.float32)
    runners, samples = {}, {}
    for m in models:
        ops = NETWORKS[m]()
        w = weights(ops)
        mb = onnx_model(ops, w, args.size)
        for t in threads:
            runners[("onnxruntime", m, t)] = ort_session(mb, t)
        if use_ncnn:
            param, binf = ncnn_files(ops, w, args.size, tmp, m)
            for t in threads:
                runners[("ncnn", m, t)] = ncnn_runner(param, binf, t)
            ref = runners[("onnxruntime", m, threads[0])](x)
            got = runners[("ncnn", m, threads[0])](x)
            err = float(np.max(np.abs(ref - got)) / (np.max(np.abs(ref)) + 1e-12))
            print(f"{m}: ncnn vs onnxruntime max relative difference {err:.2e}", file=sys.stderr)
    load0 = os.getloadavg()[0]
    for r in range(args.rounds):
        for m in models:
            for t in threads:
                for engine in ["onnxruntime", "ncnn"]:
                    if (engine, m, t) in runners:
                        samples.setdefault((engine, m, t), []).extend(time_calls(runners[(engine, m, t)], x, args.runs))
            report = convkit_round(args.convkit, m, threads)
            for res in report["results"]:
                samples.setdefault(("convkit", m, res["threads"]), []).append(res["median_ms"])
                samples.setdefault(("convkit-layers", m, res["threads"]), []).append(res["layer_sum_ms"])
                samples.setdefault(("convkit-inrun", m, res["threads"]), []).append(res["in_run_difference_percent"])
            print(f"round {r + 1}/{args.rounds} {m} done (load {os.getloadavg()[0]:.1f})", file=sys.stderr)
    load1 = os.getloadavg()[0]

    med = {k: statistics.median(v) for k, v in samples.items()}
    engines = ["onnxruntime"] + (["ncnn"] if use_ncnn else [])
    print(f"\nEnd-to-end batch-1 latency, {args.size}x{args.size}, median ms over {args.rounds} interleaved rounds "
          f"(load average {load0:.1f} -> {load1:.1f}, {os.cpu_count()} logical CPUs)\n")
    head = f"{'model':<12} {'thr':>3} {'ConvKit':>9} " + "".join(f"{e:>12} {'ratio':>6} " for e in engines) \
        + f"{'CK layers':>10} {'diff %':>7} {'in-run %':>8}"
    print(head)
    print("-" * len(head))
    for m in models:
        for t in threads:
            ck = med[("convkit", m, t)]
            row = f"{m:<12} {t:>3} {ck:>9.2f} "
            for e in engines:
                v = med[(e, m, t)]
                row += f"{v:>12.2f} {v / ck:>6.2f} "
            lay = med[("convkit-layers", m, t)]
            row += f"{lay:>10.2f} {100 * (ck - lay) / ck:>7.1f} {med[('convkit-inrun', m, t)]:>8.1f}"
            print(row)
    print("\nratio = peer ms / ConvKit ms (> 1: ConvKit faster). CK layers = sum of ConvKit's per-layer medians; "
          "diff % = (end-to-end - layers) / end-to-end; "
          "in-run % = median over profiled runs of (run wall time - sum of its steps) / run wall time.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{e}/{m}/{t}": v for (e, m, t), v in samples.items()}, f, indent=1)


if __name__ == "__main__":
    main()
