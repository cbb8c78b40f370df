#!/usr/bin/env python3
"""The reference point for `robotoff ann bench`: hnswlib through its Python bindings,
measured the same way (build with N threads, then one query per call on one thread,
recall = |found ∩ true top-k| / k), printing the same JSON keys.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy hnswlib
    /tmp/venv/bin/python scripts/bench_ann_hnswlib.py --base base.f32.npy \
        --queries queries.f32.npy --ground-truth gt_1000000.i64.npy \
        [--m 16] [--ef-construction 200] [--ef 64,96,128,160,200] [--k 10,50] [--threads 2]
        [--index-file F]

With --index-file, a saved index is searched instead of building one (the first run
builds and saves it), like `robotoff ann bench --load`.

Run it next to `robotoff ann bench` on the same machine at the same time of day: the
shared machines' speed varies by a quarter or more from hour to hour.
"""
import argparse
import json
import os
import resource
import time

import hnswlib
import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--ground-truth", required=True)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--ef", default="64,96,128,160,200")
    p.add_argument("--k", default="10,50")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--index-file")
    a = p.parse_args()
    queries = np.load(a.queries)
    gt = np.load(a.ground_truth)
    index = hnswlib.Index(space="cosine", dim=queries.shape[1])
    if a.index_file and os.path.exists(a.index_file):
        start = time.perf_counter()
        index.load_index(a.index_file)
        print(json.dumps({"reload_s": round(time.perf_counter() - start, 3), "vectors": index.get_current_count()}), flush=True)
    else:
        base = np.load(a.base, mmap_mode="r")
        n = base.shape[0]
        index.init_index(max_elements=n, ef_construction=a.ef_construction, M=a.m)
        index.set_num_threads(a.threads)
        start = time.perf_counter()
        step = 100_000
        for s in range(0, n, step):
            index.add_items(np.ascontiguousarray(base[s : s + step]), np.arange(s, min(n, s + step)))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(json.dumps({"build_s": round(time.perf_counter() - start, 1), "vectors": n, "rss_mb": rss}), flush=True)
        if a.index_file:
            index.save_index(a.index_file)
    index.set_num_threads(1)
    for ef in [int(x) for x in a.ef.split(",")]:
        for k in [int(x) for x in a.k.split(",")]:
            index.set_ef(max(ef, k))
            latencies, hits = [], 0
            t0 = time.perf_counter()
            for i in range(len(queries)):
                t = time.perf_counter()
                labels, _ = index.knn_query(queries[i : i + 1], k=k)
                latencies.append(time.perf_counter() - t)
                hits += len(set(labels[0].tolist()) & set(gt[i, :k].tolist()))
            elapsed = time.perf_counter() - t0
            latencies.sort()
            print(json.dumps({
                "ef": ef, "k": k, "recall": round(hits / (k * len(queries)), 4),
                "qps": round(len(queries) / elapsed),
                "p50_ms": round(latencies[len(latencies) // 2] * 1e3, 3),
                "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1e3, 3),
            }), flush=True)


if __name__ == "__main__":
    main()
