#!/usr/bin/env python3
"""PyTorch side of sleeve's bench: the same workloads, shapes and inputs.

Reads a JSON spec from stdin (written by bench/run.ts: workloads with their
input seeds, settings and sample positions; warm-up, runs and time cap), runs
each workload on torch-cpu (threads = cores) and, when CUDA is there, on
torch-cuda, and prints one JSON object on stdout. Progress goes to stderr.
Inputs are rebuilt from the same integer hash as bench/data.ts, bit for bit.
"""
import json
import os
import re
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 - any import failure means "no torch here"
    print(json.dumps({"error": f"torch not importable: {e}"}))
    sys.exit(0)

M32 = 0xFFFFFFFF


def gen(spec, device):
    shape = spec["shape"]
    n = 1
    for d in shape:
        n *= d
    if "fill" in spec:
        return torch.full(shape, float(spec["fill"]), dtype=torch.float32, device=device)
    s = (spec["seed"] * 0x9E3779B1) & M32
    h = (torch.arange(n, dtype=torch.int64) + s) & M32
    h = (h * 0x2C1B3C6D) & M32
    h = h ^ (h >> 15)
    h = (h * 0x297A2D39) & M32
    h = h ^ (h >> 13)
    k = h >> 8
    if spec.get("kind") == "unit":
        v = k.to(torch.float32) / 16777216.0
    else:
        v = (2 * k - 16777216).to(torch.float32) / 16777216.0
    v = v * torch.tensor(spec.get("scale", 1.0), dtype=torch.float32)
    return v.reshape(shape).to(device)


def sample(t, spec):
    flat = t.detach().reshape(-1).cpu()
    return [float(flat[i]) for i in spec["idx"]]


class Sync:
    def __init__(self, device):
        self.cuda = device.startswith("cuda")

    def __call__(self):
        if self.cuda:
            torch.cuda.synchronize()


def kernel(w, device, fn, outputs):
    """fn() → output tensor(s); outputs(result) → {sample name: tensor}."""
    def check():
        with torch.no_grad():
            r = fn()
        outs = outputs(r)
        return {k: sample(outs[k], w["samples"][k]) for k in w["samples"]}

    def run():
        with torch.no_grad():
            fn()
    return check, run


def prepare(w, device):
    I = {k: gen(v, device) for k, v in w["inputs"].items()}
    c = w["cfg"]
    name = re.sub(r"-b\d+$", "", w["name"])  # batch variants share the code
    if name.startswith("matmul"):
        return kernel(w, device, lambda: I["a"] @ I["b"], lambda r: {"c": r})
    if name == "conv2d":
        return kernel(w, device, lambda: F.conv2d(I["x"], I["w"], I["b"], stride=1, padding=1), lambda r: {"y": r})
    if name == "conv-transpose":
        return kernel(w, device, lambda: F.conv_transpose2d(I["x"], I["w"], I["b"], stride=2, padding=2, output_padding=1),
                      lambda r: {"y": r})
    if name == "batchnorm2d":
        return kernel(w, device, lambda: F.batch_norm(I["x"], I["runningMean"], I["runningVar"], I["weight"], I["bias"],
                                                      training=True, momentum=c["momentum"], eps=c["eps"]),
                      lambda r: {"y": r})
    if name == "maxpool2d":
        return kernel(w, device, lambda: F.max_pool2d(I["x"], 2, 2), lambda r: {"y": r})
    if name == "rfft":
        def parts(r):
            v = torch.view_as_real(r)
            return {"re": v[..., 0], "im": v[..., 1]}
        return kernel(w, device, lambda: torch.fft.rfft(I["x"]), parts)
    if name == "generator-forward":
        def gen_fwd():
            def norm(h, i):
                h = F.batch_norm(h, I[f"rm{i}"], I[f"rv{i}"], I[f"g{i}"], I[f"be{i}"], training=False, eps=c["eps"])
                return F.leaky_relu(h, c["slope"])
            h = norm(F.linear(I["z"], I["wl"], I["bl"]).view(c["batch"], 128, 25, 25), 1)
            h = norm(F.conv_transpose2d(h, I["w2"], I["b2"], stride=2, padding=2, output_padding=1), 2)
            return torch.tanh(F.conv_transpose2d(h, I["w3"], I["b3"], stride=2, padding=2, output_padding=1))
        return kernel(w, device, gen_fwd, lambda r: {"y": r})
    if name == "critic-gp-step":
        return critic(w, I)
    if name == "classifier-step":
        return classifier(w, I)
    return None


def critic(w, I):
    slope, lam = w["cfg"]["slope"], w["cfg"]["lambda"]
    names = ["w1", "b1", "w2", "b2", "wl", "bl"]
    P = {k: I[k].requires_grad_() for k in names}
    real, fake, eps = I["real"], I["fake"], I["eps"]
    n = real.shape[0]

    def D(x):
        h = F.leaky_relu(F.conv2d(x, P["w1"], P["b1"], stride=2, padding=2), slope)
        h = F.leaky_relu(F.conv2d(h, P["w2"], P["b2"], stride=2, padding=2), slope)
        return F.linear(h.flatten(1), P["wl"], P["bl"])

    def step():
        xhat = (fake + eps * (real - fake)).requires_grad_()
        gx, = torch.autograd.grad(D(xhat).sum(), xhat, create_graph=True)
        gp = ((gx.reshape(n, -1).square().sum(1).sqrt() - 1) ** 2).mean()
        loss = D(fake).mean() - D(real).mean() + lam * gp
        grads = torch.autograd.grad(loss, [P[k] for k in names])
        return loss, dict(zip(names, grads))

    def check():
        loss, g = step()
        out = {}
        for k, spec in w["samples"].items():
            out[k] = sample(loss if k == "loss" else g[k[2:]], spec)
        return out

    return check, lambda: step()


def classifier(w, I):
    c = w["cfg"]
    slope = c["slope"]
    n = I["x"].shape[0]
    labels = torch.tensor([(i * 7 + 3) % 10 for i in range(n)], device=I["x"].device)
    pnames = [f"{k}{i}" for i in (1, 2, 3) for k in ("w", "b", "g", "be")] + ["wl", "bl"]
    P = {k: I[k].requires_grad_() for k in pnames}
    opt = torch.optim.Adam(list(P.values()), lr=c["lr"], betas=(0.9, 0.999), eps=1e-8)

    def step():
        h = I["x"]
        for i in (1, 2, 3):
            h = F.conv2d(h, P[f"w{i}"], P[f"b{i}"], padding=1)
            h = F.batch_norm(h, I[f"rm{i}"], I[f"rv{i}"], P[f"g{i}"], P[f"be{i}"], training=True,
                             momentum=c["momentum"], eps=c["eps"])
            h = F.max_pool2d(F.leaky_relu(h, slope), 2, 2)
        loss = F.cross_entropy(F.linear(h.flatten(1), P["wl"], P["bl"]), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    def check():
        return {"loss1": [float(step())], "loss2": [float(step())]}

    return check, lambda: step()


BATCH_MS = 20  # as bench/run.ts: shorter runs are timed in batches, one sync each


def measure(check, run, sync, warmup, runs, cap_ms):
    """The rules of bench/run.ts's measure(): a first run over half the cap
    gets one warm rerun as its sample (or stands, cold, over the whole cap);
    warm-ups; runs under BATCH_MS timed in batches. Returns per-run times."""
    t0 = time.perf_counter()
    samples = check()
    sync()
    first = (time.perf_counter() - t0) * 1000
    if first > cap_ms / 2:
        if first > cap_ms:
            return samples, [first], True, 1
        s = time.perf_counter()
        run()
        sync()
        return samples, [(time.perf_counter() - s) * 1000], False, 1
    last = float("inf")
    i = 0
    while (i < max(1, warmup - 1) or (i < 2 and last < 4 * BATCH_MS)) and (time.perf_counter() - t0) * 1000 < cap_ms / 3:
        s = time.perf_counter()
        run()
        sync()
        last = min(last, (time.perf_counter() - s) * 1000)
        i += 1
    if last == float("inf"):
        last = first
    batch = min(100, -(-BATCH_MS // max(last, 0.05))) if last < BATCH_MS else 1
    batch = int(batch)
    times = []
    while len(times) < runs:
        s = time.perf_counter()
        for _ in range(batch):
            run()
        sync()
        dt = (time.perf_counter() - s) * 1000
        times.append(dt / batch)
        if (time.perf_counter() - t0) * 1000 + dt > cap_ms:
            break
    return samples, times, False, batch


def main():
    spec = json.load(sys.stdin)
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    cuda = torch.cuda.is_available()
    devices = [("torch-cpu", "cpu")]
    if cuda and "torch-cuda" in spec["engines"]:
        devices.append(("torch-cuda", "cuda"))
    devices = [d for d in devices if d[0] in spec["engines"]]
    results = []
    deadline = time.perf_counter() + spec.get("budget_s", 1e9)
    for w in spec["workloads"]:
        for engine, device in devices:
            entry = {"workload": w["name"], "engine": engine}
            if time.perf_counter() > deadline:
                entry["unsupported"] = "skipped: torch's share of the time budget is spent"
                results.append(entry)
                continue
            print(f"  {engine} {w['name']} ...", file=sys.stderr, flush=True)
            try:
                prepared = prepare(w, device)
                if prepared is None:
                    entry["unsupported"] = "no torch implementation"
                else:
                    check, run = prepared
                    samples, times, cold, batch = measure(check, run, Sync(device), spec["warmup"], spec["runs"], spec["cap_ms"])
                    entry["samples"] = samples
                    entry["times_ms"] = times
                    if cold:
                        entry["cold"] = True
                    if batch > 1:
                        entry["batch"] = batch
            except Exception as e:  # noqa: BLE001 - report and go on with the next workload
                entry["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            results.append(entry)
            if device == "cuda":
                torch.cuda.empty_cache()
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if cuda else None,
        "results": results,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
