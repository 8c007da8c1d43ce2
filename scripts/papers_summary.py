#!/usr/bin/env python3
"""Summary tables of the paper sweeps (docs/validation.md), from a `cocoon sweep` sweep.csv.

    python3 scripts/papers_summary.py chaney2018 Reports/papers/chaney2018/sweep.csv
    python3 scripts/papers_summary.py piao2023 Reports/papers/piao2023-beta-gamma/sweep.csv
"""
import csv
import statistics
import sys
from collections import defaultdict


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def metric_by_point(table, metric, group="population"):
    """{(point values...): {replicate: value}} for one metric."""
    keys = [k for k in table[0].keys() if k not in ("point", "replicate", "seed", "kind", "name", "group", "value", "verdict")]
    out = defaultdict(dict)
    for r in table:
        if r["kind"] == "metric" and r["name"] == metric and r["group"] == group:
            out[tuple(r[k] for k in keys)][int(r["replicate"])] = float(r["value"])
    return keys, out


def label(point):
    text = point[0]
    for k in ("kind: ", "retrainEvery: "):
        text = text.replace(k, "")
    return text.split(", warmup")[0].split(", controls")[0].strip("{}")


def chaney(path):
    table = rows(path)
    _, jac = metric_by_point(table, "interaction_jaccard_nn_pairs")
    _, same = metric_by_point(table, "interaction_jaccard_nn_pairs_minus_ideal")
    ideal = next(v for p, v in jac.items() if "oracle" in p[0])
    print(f"{'recommender':<28} {'Jaccard (NN pairs)':>18} {'minus ideal':>12} {'/ ideal':>8} {'minus ideal, same pairs':>24}")
    for p, v in jac.items():
        reps = sorted(set(v) & set(ideal))
        diff = statistics.mean(v[r] - ideal[r] for r in reps)
        ratio = statistics.mean(v[r] / ideal[r] for r in reps if ideal[r] > 0)
        paired = f"{statistics.mean(same[p].values()):>+24.4f}" if same.get(p) else f"{'':>24}"
        print(f"{label(p):<28} {statistics.mean(v.values()):>18.4f} {diff:>+12.4f} {ratio:>8.2f} {paired}")


def piao(path):
    table = rows(path)
    keys, ratio = metric_by_point(table, "cocoon_ratio_rec")
    means = {p: statistics.mean(v.values()) for p, v in ratio.items()}
    if len(keys) == 2:
        rows_ = sorted({p[0] for p in means}, key=float)
        cols = sorted({p[1] for p in means}, key=float, reverse=True)
        print(f"cocoon ratio (mean over users and seeds); rows {keys[0]}, columns {keys[1]}")
        print(f"{'':>6}" + "".join(f"{c:>7}" for c in cols))
        for r in rows_:
            print(f"{r:>6}" + "".join(f"{means[(r, c)]:>7.2f}" for c in cols))
    else:
        print(f"{keys[0]:>8} {'cocoon ratio':>12}")
        for p in sorted(means, key=lambda p: float(p[0])):
            print(f"{p[0]:>8} {means[p]:>12.3f}")


if __name__ == "__main__":
    {"chaney2018": chaney, "piao2023": piao}[sys.argv[1]](sys.argv[2])
