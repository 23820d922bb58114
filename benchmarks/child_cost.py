"""What a child costs, and how well each cost is known.

1. `analytic`: the time of `keras_nasnet.space.cost.network_cost` (params and
   MACs without building) for random genotypes at the search-proxy size and
   for NASNet-A mobile and large, and the mobile model's MACs against the
   NASNet paper's 564M mult-adds.
2. `latency`: `keras_nasnet.models.measure.measure_latency` (batch 1, ms per
   image) of children at the proxy size: NASNet-A, AmoebaNet-A and random
   genotypes, each measured `--repeats` times (interleaved, so that a load
   change hits every child). Reported per child: the median of the repeats'
   medians, their range, and the within-call p10-p90 spread; over children:
   how well two repeats agree on the ranking (Spearman), and how latency
   ranks against MACs and parameters.

Usage:
    python benchmarks/child_cost.py [--cells-per-stack 1 --filters 8
        --image-size 28 --channels 1 --genotypes 6 --repeats 5 --runs 30]
        [--output benchmarks/results/child_cost_<backend>_<cpu|gpu>.json]
"""

import argparse
import itertools
import sys
import time

import _common
import numpy as np

from keras_nasnet.genotypes import (
    AMOEBANET_A,
    NASNET_A,
    NASNET_A_LARGE,
    NASNET_A_MOBILE,
)
from keras_nasnet.space import random_genotype
from keras_nasnet.space.cost import network_cost

PAPER_MOBILE_MACS = 564e6  # Zoph et al. 2018, table 2 (NASNet-A 4@1056)


def _ms(seconds):
    ms = np.array(seconds) * 1e3
    return {
        "median_ms": round(float(np.median(ms)), 4),
        "p90_ms": round(float(np.percentile(ms, 90)), 4),
        "max_ms": round(float(np.max(ms)), 4),
    }


def _time_calls(fn, repeats):
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def bench_analytic(proxy, num_genotypes, repeats):
    genotypes = [
        random_genotype(seed, combines=("add", "concat"))
        for seed in range(num_genotypes)
    ]
    proxy_seconds = []
    for genotype in genotypes:
        proxy_seconds += _time_calls(lambda g=genotype: network_cost(g, **proxy), 1)
    mobile = network_cost(NASNET_A, **NASNET_A_MOBILE)
    return {
        "proxy_random_genotypes": {
            "genotypes": num_genotypes,
            **_ms(proxy_seconds),
        },
        "nasnet_a_mobile": {
            **_ms(
                _time_calls(lambda: network_cost(NASNET_A, **NASNET_A_MOBILE), repeats)
            ),
            "params": mobile.params,
            "macs": mobile.macs,
            "paper_macs": PAPER_MOBILE_MACS,
            "macs_vs_paper": round(mobile.macs / PAPER_MOBILE_MACS - 1, 5),
        },
        "nasnet_a_large": {
            **_ms(
                _time_calls(lambda: network_cost(NASNET_A, **NASNET_A_LARGE), repeats)
            ),
            **vars(network_cost(NASNET_A, **NASNET_A_LARGE)),
        },
    }


def bench_latency(proxy, num_random, repeats, runs, warmup, batch_size):
    from scipy import stats

    from keras_nasnet.models import NASNet
    from keras_nasnet.models.measure import measure_latency

    children = {"nasnet_a": NASNET_A, "amoebanet_a": AMOEBANET_A}
    for seed in range(num_random):
        children[f"random_{seed}"] = random_genotype(seed, combines=("add", "concat"))
    models, results = {}, {}
    for name, genotype in children.items():
        models[name] = NASNet(genotype, **proxy)
        cost = network_cost(genotype, **proxy)
        results[name] = {
            "genotype": str(genotype),
            "params": cost.params,
            "macs": cost.macs,
            "measurements": [],
        }
    # Interleaved: repeat r measures every child before repeat r + 1.
    for r in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            latency = measure_latency(
                model, batch_size=batch_size, warmup=warmup, runs=runs, seed=r
            )
            # What one measurement costs a search (the first one traces).
            seconds = round(time.perf_counter() - start, 3)
            results[name]["measurements"].append(
                {
                    **{k: round(v, 4) for k, v in vars(latency).items()},
                    "seconds": seconds,
                }
            )
            print(name, r, latency, file=sys.stderr, flush=True)
    for result in results.values():
        medians = [m["median_ms"] for m in result["measurements"]]
        spreads = [
            (m["p90_ms"] - m["p10_ms"]) / m["median_ms"] for m in result["measurements"]
        ]
        middle = float(np.median(medians))
        result.update(
            median_ms=round(middle, 4),
            repeat_medians_min_ms=round(min(medians), 4),
            repeat_medians_max_ms=round(max(medians), 4),
            # How far apart two measurements of the same child can be.
            repeat_range_over_median=round((max(medians) - min(medians)) / middle, 4),
            # How noisy one measurement is: (p90 - p10) / median of its runs.
            within_call_spread_median=round(float(np.median(spreads)), 4),
        )
    names = list(results)
    per_repeat = np.array(
        [
            [results[n]["measurements"][r]["median_ms"] for n in names]
            for r in range(repeats)
        ]
    )
    agreement = [
        stats.spearmanr(per_repeat[a], per_repeat[b]).statistic
        for a, b in itertools.combinations(range(repeats), 2)
    ]
    medians = [results[n]["median_ms"] for n in names]
    first = [results[n]["measurements"][0]["seconds"] for n in names]
    later = [m["seconds"] for n in names for m in results[n]["measurements"][1:]]
    summary = {
        "children": len(names),
        # Wall time of one measure_latency call: the first traces the model.
        "call_seconds_first_median": round(float(np.median(first)), 3),
        "call_seconds_later_median": (
            round(float(np.median(later)), 3) if later else None
        ),
        "repeat_range_over_median": {
            "median": round(
                float(
                    np.median([results[n]["repeat_range_over_median"] for n in names])
                ),
                4,
            ),
            "max": round(max(results[n]["repeat_range_over_median"] for n in names), 4),
        },
        "within_call_spread_median": round(
            float(np.median([results[n]["within_call_spread_median"] for n in names])),
            4,
        ),
        "ranking_agreement_between_repeats_spearman": {
            "median": round(float(np.median(agreement)), 4) if agreement else None,
            "min": round(float(np.min(agreement)), 4) if agreement else None,
        },
        "latency_vs_macs_spearman": round(
            float(
                stats.spearmanr(medians, [results[n]["macs"] for n in names]).statistic
            ),
            4,
        ),
        "latency_vs_params_spearman": round(
            float(
                stats.spearmanr(
                    medians, [results[n]["params"] for n in names]
                ).statistic
            ),
            4,
        ),
    }
    return {"summary": summary, "children": results}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells-per-stack", type=int, default=1)
    parser.add_argument("--filters", type=int, default=8)
    parser.add_argument("--stem", default="cifar")
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument(
        "--analytic-genotypes", type=int, default=200, help="random genotypes timed"
    )
    parser.add_argument(
        "--genotypes", type=int, default=6, help="random children timed for latency"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    proxy = dict(
        cells_per_stack=args.cells_per_stack,
        filters=args.filters,
        stem=args.stem,
        input_shape=(args.image_size, args.image_size, args.channels),
        num_classes=args.num_classes,
    )
    report = _common.header("child_cost")
    report["settings"] = {
        "proxy": proxy,
        "latency": {
            "random_genotypes": args.genotypes,
            "repeats": args.repeats,
            "runs": args.runs,
            "warmup": args.warmup,
            "batch_size": args.batch_size,
        },
    }
    report["analytic"] = bench_analytic(proxy, args.analytic_genotypes, args.repeats)
    print("analytic", report["analytic"], file=sys.stderr, flush=True)
    report["latency"] = bench_latency(
        proxy, args.genotypes, args.repeats, args.runs, args.warmup, args.batch_size
    )
    device = "cpu" if report["device"] == "cpu" else "gpu"
    output = args.output or _common.default_output(
        f"child_cost_{report['backend']}_{device}"
    )
    _common.write(report, output)


if __name__ == "__main__":
    main()
