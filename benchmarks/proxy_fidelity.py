"""Does the search proxy rank cells as a longer training does?

Trains each of `--genotypes` genotypes (NASNet-A, AmoebaNet-A, AmoebaNet-C,
then random ones from the default search space, `random_genotype(seed)` with
add or concat, seeds 0, 1, ...) with every candidate proxy and with a
reference training at least 5x longer, then reports, per candidate, Kendall's
tau and Spearman's rho between its ranking (validation accuracy on the
held-out training images) and the reference's (accuracy on test images no
proxy sees), each with a bootstrap 95% interval over the genotypes, and the
candidate's mean CPU seconds per trial. `chosen` is the cheapest candidate
whose tau is at or above 0.5 (weight-sharing proxies are reported at
tau ~ 0.2: Yu et al. 2019, "Evaluating the Search Phase of Neural
Architecture Search"); `chosen_by_interval` the cheapest whose bootstrap
interval stays at or above 0.5, the rule keras-nasnet's default follows.

Every training runs in a fresh process (`proxy_train.run_isolated`) and is
appended to `--progress` (JSON lines) as soon as it ends; a restart skips
what is there, so the run can be stopped and resumed (`nohup` it).

Usage:
    python benchmarks/proxy_fidelity.py [--genotypes 24] [--workers 1]
        [--set batch32|batch64]
        [--progress benchmarks/results/proxy_fidelity_batch32.jsonl]
        [--output benchmarks/results/proxy_fidelity_batch32.json] [--smoke]
"""

import argparse
import concurrent.futures
import json
import os
import sys

import _common
import numpy as np
import proxy_train

# name -> the training: overrides of training.SEARCH_PROXY's fields, and the
# data. Every training here drops weight decay (a one-epoch proxy does not
# overfit; its regularization loss costs a fifth of the trace) and runs with
# TensorFlow's graph optimizer off (proxy_recipe.py measures both).
_BASE = {**proxy_train.BASE_RECIPE, "weight_decay": 0.0}
_BASE32 = {**_BASE, "batch_size": 32}
_PROCESS = dict(graph_optimization=False)
# The measured sets: `--set NAME`. Each names its candidate proxies, the
# reference, and the held-out images that score them.
SETS = {
    # The batch-64 proxies of the 4k default before batch 32 (2026-11-30,
    # benchmarks/results/proxy_fidelity.json): one epoch of 20,480 images is
    # 320 steps, 5x proxy_4k's 64 and 10x proxy_2k's (sized so that 24
    # genotypes fit a session on the shared 2-core machine).
    "batch64": dict(
        candidates={
            "proxy_2k": dict(recipe=_BASE, train_images=2048, **_PROCESS),
            "proxy_4k": dict(recipe=_BASE, train_images=4096, **_PROCESS),
        },
        reference=dict(recipe=_BASE, train_images=20480, **_PROCESS),
        validation_images=2000,
        test_images=5000,
    ),
    # The batch-32 proxies: the default search's 4,000 images, make search's
    # 24,000 until 6469393 and its 48,000 at peak 0.2 since, and one between,
    # scored on 4,000 held-out images as make search scores its trials. The
    # reference is make search's final training (N=2, F=12 on 48,000 images)
    # for 2 epochs: 4x the proxy_24k's steps and 12x its multiply-adds (3x
    # per image: keras_nasnet.space.cost.macs), 6x proxy_48k's.
    "batch32": dict(
        candidates={
            f"proxy_{k}k_b32": dict(recipe=_BASE32, train_images=k * 1000, **_PROCESS)
            for k in (4, 12, 24)
        }
        | {
            # make search's proxy since 6469393: 48,000 images at peak 0.2.
            "proxy_48k_b32_lr_0.2": dict(
                recipe={**_BASE32, "learning_rate": 0.2},
                train_images=48000,
                **_PROCESS,
            )
        },
        reference=dict(
            recipe={**_BASE32, "cells_per_stack": 2, "filters": 12, "epochs": 2},
            train_images=48000,
            **_PROCESS,
        ),
        validation_images=4000,
        test_images=5000,
    ),
}
_TINY = {**_BASE, "filters": 2, "run_eagerly": True}
SMOKE = dict(
    candidates={"proxy_tiny": dict(recipe=_TINY, train_images=64)},
    reference=dict(recipe={**_TINY, "epochs": 2}, train_images=64),
    validation_images=32,
    test_images=32,
)


def genotypes(count, num_blocks=5):
    """`(name, text form)` of the published genotypes, then random ones.

    With `num_blocks` other than 5 (the smoke run's tiny cells), only random
    genotypes of that many blocks.
    """
    from keras_nasnet import genotypes as genotypes_lib
    from keras_nasnet.space import ops as ops_lib
    from keras_nasnet.space import sampling

    named = [
        ("nasnet_a", genotypes_lib.NASNET_A),
        ("amoebanet_a", genotypes_lib.AMOEBANET_A),
        ("amoebanet_c", genotypes_lib.AMOEBANET_C),
    ]
    out = [(name, str(genotype)) for name, genotype in named][:count]
    if num_blocks != 5:
        out = []
    seed = 0
    while len(out) < count:
        genotype = sampling.random_genotype(
            seed, num_blocks=num_blocks, combines=(ops_lib.ADD, ops_lib.CONCAT)
        )
        out.append((f"random_{seed}", str(genotype)))
        seed += 1
    return out


def _read_progress(path):
    done = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    row = json.loads(line)
                    done[(row["genotype"], row["training"])] = row
    return done


def _bootstrap(proxy, reference, statistic, rng, rounds=2000):
    """The statistic, and a 95% percentile interval over resampled genotypes."""
    proxy, reference = np.asarray(proxy), np.asarray(reference)
    value = statistic(proxy, reference)
    if not np.isfinite(value):  # a constant ranking (ties only)
        return {"value": None, "ci95": None}
    samples = []
    for _ in range(rounds):
        index = rng.integers(0, len(proxy), len(proxy))
        if len(set(index)) < 3:
            continue
        sample = statistic(proxy[index], reference[index])
        if np.isfinite(sample):
            samples.append(sample)
    if not samples:  # too few genotypes to resample (the smoke run)
        return {"value": float(value), "ci95": None}
    low, high = np.percentile(samples, [2.5, 97.5])
    return {"value": float(value), "ci95": [float(low), float(high)]}


def _mean_or_none(values):
    return float(np.mean(values)) if values else None


def correlations(rows, candidates):
    """Per candidate: tau and rho against the reference, with intervals."""
    from scipy import stats

    def tau(a, b):
        return stats.kendalltau(a, b).statistic

    def rho(a, b):
        return stats.spearmanr(a, b).statistic

    reference = {r["genotype"]: r for r in rows if r["training"] == "reference"}
    out = {}
    for name in candidates:
        proxy = {r["genotype"]: r for r in rows if r["training"] == name}
        common = sorted(set(proxy) & set(reference))
        if len(common) < 2:
            continue
        p = [proxy[g]["val_accuracy"] for g in common]
        q = [reference[g]["test_accuracy"] for g in common]
        rng = np.random.default_rng(0)
        out[name] = {
            "genotypes": len(common),
            "kendall_tau": _bootstrap(p, q, tau, rng),
            "spearman_rho": _bootstrap(p, q, rho, rng),
            "mean_cpu_trial_s": float(np.mean([proxy[g]["cpu_trial"] for g in common])),
            # Rows measured before FusedBatchNormalization carry no flag.
            "mean_cpu_trial_s_fused_batch_norm": _mean_or_none(
                [
                    proxy[g]["cpu_trial"]
                    for g in common
                    if proxy[g].get("fused_batch_norm")
                ]
            ),
            "mean_wall_trial_s": float(
                np.mean([proxy[g]["wall_trial"] for g in common])
            ),
            "mean_val_accuracy": float(np.mean(p)),
        }
    return out


def choose(summary, threshold=0.5, *, interval=False):
    """The cheapest candidate whose tau is at least `threshold`, or None.

    With `interval`, the lower end of tau's bootstrap 95% interval must be
    at least `threshold`: the stricter rule, for a tau measured on a few
    dozen genotypes."""

    def tau(s):
        t = s["kendall_tau"]
        value = (t["ci95"] or [None])[0] if interval else t["value"]
        return -1.0 if value is None else value

    good = [
        (s["mean_cpu_trial_s"], name)
        for name, s in summary.items()
        if tau(s) >= threshold
    ]
    return min(good)[1] if good else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genotypes", type=int, default=24)
    parser.add_argument(
        "--set",
        choices=sorted(SETS),
        default="batch32",
        help="the candidate proxies and reference to measure (see SETS); "
        "batch32's results default to proxy_fidelity_batch32.json, batch64's "
        "to proxy_fidelity.json",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--progress", default=None)
    parser.add_argument("--output", default=None)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="2 one-block genotypes, a few images, F=2, eager, in this "
        "process (its threads left as they are): checks the script in seconds",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing; summarize the progress file",
    )
    args = parser.parse_args(argv)
    chosen_set = SETS[args.set]
    candidates, reference = chosen_set["candidates"], chosen_set["reference"]
    validation_images = chosen_set["validation_images"]
    test_images = chosen_set["test_images"]
    if args.smoke:
        args.genotypes = min(args.genotypes, 2)
        # Trained in this process (a test's), whose thread pools are fixed.
        args.threads = None
        candidates, reference = SMOKE["candidates"], SMOKE["reference"]
        validation_images, test_images = (
            SMOKE["validation_images"],
            SMOKE["test_images"],
        )
    name = "proxy_fidelity" + {"batch64": ""}.get(args.set, "_" + args.set)
    name += "_smoke" if args.smoke else ""
    output = args.output or _common.default_output(name)
    progress = args.progress or os.path.splitext(output)[0] + ".jsonl"
    report = _common.header("proxy_fidelity")
    done = _read_progress(progress)
    jobs = []
    for genotype_name, genotype in genotypes(
        args.genotypes, num_blocks=1 if args.smoke else 5
    ):
        trainings = [("reference", reference), *candidates.items()]
        for training_name, spec in trainings:
            if (genotype_name, training_name) in done:
                continue
            payload = dict(
                genotype=genotype,
                recipe=spec["recipe"],
                train_images=spec["train_images"],
                graph_optimization=spec.get("graph_optimization"),
                validation_images=validation_images,
                test_images=test_images if training_name == "reference" else None,
                threads=args.threads,
                data_dir=args.data_dir,
                warm_up=not args.smoke,
            )
            jobs.append((genotype_name, genotype, training_name, payload))
    if args.smoke:
        args.workers = 1
    if args.report_only:
        jobs = []

    def run(job):
        genotype_name, genotype, training_name, payload = job
        if args.smoke:  # in this process, eagerly: seconds, not minutes
            result = proxy_train.run_payload(payload)
        else:
            result = proxy_train.run_isolated(payload)
        return {
            "genotype": genotype_name,
            "genotype_text": genotype,
            "training": training_name,
            **result,
        }

    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        futures = [pool.submit(run, job) for job in jobs]
        for future in concurrent.futures.as_completed(futures):
            row = future.result()
            with open(progress, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(
                f"{row['genotype']} {row['training']}: val {row['val_accuracy']:.4f} "
                f"test {row['test_accuracy']} in {row['cpu_trial']:.1f} CPU-s",
                file=sys.stderr,
                flush=True,
            )
    rows = list(_read_progress(progress).values())
    summary = correlations(rows, candidates)
    report.update(
        {
            "set": None if args.smoke else args.set,
            "candidates": candidates,
            "reference": reference,
            "validation_images": validation_images,
            "test_images": test_images,
            "threads": args.threads,
            "workers": args.workers,
            "progress_file": os.path.relpath(progress, os.path.dirname(output)),
            "trainings": len(rows),
            "total_cpu_s": float(sum(r["cpu_trial"] for r in rows)),
            "reference_mean_cpu_trial_s": float(
                np.mean([r["cpu_trial"] for r in rows if r["training"] == "reference"])
            )
            if any(r["training"] == "reference" for r in rows)
            else None,
            "results": summary,
            "chosen": choose(summary),
            "chosen_by_interval": choose(summary, interval=True),
        }
    )
    _common.write(report, output)


if __name__ == "__main__":
    main()
