#!/usr/bin/env python3
"""Training-step peer comparison: PyTorch (CPU) next to `convkit bench --train`
(optional tool, never part of the test suite; PyTorch is never a dependency).

The same two training steps as `convkit bench --train` (ConvKitNN's
TrainingBenchmark): forward in training mode, softmax cross-entropy, backward,
SGD update (momentum 0.9, lr 1e-3), on random N(0,1) images and random labels:

* ResNet-18 (torchvision layout: 7x7/2 conv + BN + ReLU, 3x3/2 max pool, basic
  blocks [2, 2, 2, 2] with 1x1/2 downsample convs, global average pool, fc 1000),
  batch 8, 3x112x112;
* LeNet-5 (conv 5x5/6 tanh, avg pool 2, conv 5x5/16 tanh, avg pool 2,
  conv 5x5/120 tanh, dense 84 tanh, dense 10), batch 64, 1x32x32.

PyTorch: torch.set_num_threads(1 and 2), interop threads 1, one warm-up step,
then the median of --steps timed steps.  ConvKit: `convkit bench --train
--threads N` (release build; the median of 5 steps after one warm-up), run
from this script in the same run, alternating with PyTorch per thread count so
load changes hit both alike.  The figures are images/s (batch / step time).

Setup:  pip install torch --index-url https://download.pytorch.org/whl/cpu
        swift build -c release --scratch-path .build-train
Usage:  python3 Scripts/peers/torch_train.py [--threads 1,2] [--steps 5] [--rounds 1]
                                             [--convkit PATH] [--no-convkit]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def resnet18(nn):
    class Basic(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))
            return (y + (x if self.down is None else self.down(x))).relu()

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for stage, planes in enumerate([64, 128, 256, 512]):
        for b in range(2):
            layers.append(Basic(cin, planes, 2 if (b == 0 and stage > 0) else 1))
            cin = planes
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers)


def lenet5(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(),
        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))


CASES = [  # (name as convkit prints it, builder, batch, input shape, classes)
    ("resnet18 112x112", resnet18, 8, (3, 112, 112), 1000),
    ("lenet5 32x32", lenet5, 64, (1, 32, 32), 10),
]


def torch_rates(torch, threads, steps):
    """images/s (median of `steps` timed steps after one warm-up) per case."""
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    out = {}
    for name, build, batch, shape, classes in CASES:
        model = build(torch.nn).train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()
        x = torch.randn(batch, *shape)
        labels = torch.randint(0, classes, (batch,))

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), labels)
            loss.backward()
            opt.step()

        step()
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        out[name] = batch / statistics.median(times)
    return out


def convkit_rates(binary, threads):
    """images/s per case as printed by `convkit bench --train --threads N`."""
    text = subprocess.run([binary, "bench", "--train", "--threads", str(threads)], check=True,
                          capture_output=True, text=True, cwd=REPO).stdout
    out = {}
    for name, *_ in CASES:
        m = re.search(re.escape(name) + r"\s+batch\s+\d+\s+([0-9.]+) images/s", text)
        if m:
            out[name] = float(m.group(1))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1, help="repeat the whole comparison; medians over rounds")
    ap.add_argument("--convkit", default=os.path.join(REPO, ".build-train", "release", "convkit"))
    ap.add_argument("--no-convkit", action="store_true")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed: pip install torch --index-url https://download.pytorch.org/whl/cpu")
    torch.set_num_interop_threads(1)
    threads = [int(t) for t in args.threads.split(",")]
    if not args.no_convkit and not os.access(args.convkit, os.X_OK):
        sys.exit(f"{args.convkit} not found: swift build -c release --scratch-path .build-train (or pass --convkit)")
    rates = {}  # (engine, name, threads) -> [images/s per round]
    for r in range(args.rounds):
        for t in threads:
            print(f"round {r + 1}/{args.rounds}, {t} thread(s): PyTorch…", file=sys.stderr, flush=True)
            for name, v in torch_rates(torch, t, args.steps).items():
                rates.setdefault(("PyTorch", name, t), []).append(v)
            if not args.no_convkit:
                print(f"round {r + 1}/{args.rounds}, {t} thread(s): convkit bench --train…", file=sys.stderr,
                      flush=True)
                for name, v in convkit_rates(args.convkit, t).items():
                    rates.setdefault(("ConvKit", name, t), []).append(v)
    print(f"training step images/s (forward + softmax cross-entropy + backward + SGD momentum update), "
          f"median over {args.rounds} round(s); PyTorch {torch.__version__}")
    engines = ["ConvKit", "PyTorch"] if not args.no_convkit else ["PyTorch"]
    header = f"{'network':<18} {'batch':>5} {'thr':>3}" + "".join(f" {e:>9}" for e in engines)
    if len(engines) == 2:
        header += "  ConvKit/PyTorch"
    print(header)
    for name, _, batch, _, _ in CASES:
        for t in threads:
            vals = [statistics.median(rates[(e, name, t)]) if (e, name, t) in rates else float("nan")
                    for e in engines]
            line = f"{name:<18} {batch:>5} {t:>3}" + "".join(f" {v:>9.1f}" for v in vals)
            if len(vals) == 2:
                line += f"  {vals[0] / vals[1]:>15.2f}"
            print(line)


if __name__ == "__main__":
    main()
