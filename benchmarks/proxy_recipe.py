"""Which child training lets a search proxy learn within a trial's budget?

Trains NASNet-A at the `make search` proxy size on real Fashion-MNIST
(validation accuracy on 2,000 held-out training images) under one setting at
a time, starting from a base recipe: the optimizer (Nesterov or plain
momentum), the peak learning rate, the warmup, the batch size, weight decay
and gradient clipping, the number of training images and epochs, the width F,
the stem's stride, standardized vs [0, 1] inputs, traced vs eager steps,
1 vs 2 threads, Keras's batch normalization instead of our fused one, and
TensorFlow's graph optimizer (Grappler) off. Each training runs as a search trial does
(`proxy_train.train_child`: build, compile over the run's real length, `fit`
with validation) in a fresh process, and records its accuracy and its CPU and
wall seconds per phase (build, first step: the trace, later steps,
validation), with the load average: the machine is shared, so CPU seconds say
what a trial costs a core and wall seconds what it took.

Every training is appended to `--progress` (JSON lines) as soon as it ends; a
restart skips what is there.

Usage:
    python benchmarks/proxy_recipe.py [--only NAME,...] [--repeats 1]
        [--progress benchmarks/results/proxy_recipe.jsonl]
        [--output benchmarks/results/proxy_recipe.json] [--smoke]
"""

import argparse
import json
import os
import sys

import _common
import numpy as np
import proxy_train

BASE = dict(recipe=proxy_train.BASE_RECIPE, train_images=8000, threads=1)


def _variant(train_images=None, threads=None, **flags_and_recipe):
    flags = {
        name: flags_and_recipe.pop(name)
        for name in ("normalize_inputs", "unfused_batch_norm", "graph_optimization")
        if name in flags_and_recipe
    }
    return {
        "recipe": {**BASE["recipe"], **flags_and_recipe},
        "train_images": BASE["train_images"] if train_images is None else train_images,
        "threads": BASE["threads"] if threads is None else threads,
        **flags,
    }


# name -> the training (one change from BASE each, unless the name says more).
SWEEP = {
    "base": _variant(),
    "lr_0.05": _variant(learning_rate=0.05),
    "lr_0.2": _variant(learning_rate=0.2),
    "lr_0.4": _variant(learning_rate=0.4),
    "plain_momentum": _variant(nesterov=False),
    "no_warmup": _variant(warmup_fraction=0.0),
    "warmup_0.3": _variant(warmup_fraction=0.3),
    "no_weight_decay": _variant(weight_decay=0.0),
    "no_clipping": _variant(clipnorm=None),
    "batch_32": _variant(batch_size=32),
    "batch_128_lr_0.2": _variant(batch_size=128, learning_rate=0.2),
    "images_4k": _variant(train_images=4000),
    "images_16k": _variant(train_images=16000),
    "images_32k": _variant(train_images=32000),
    "images_8k_2_epochs": _variant(epochs=2),
    "filters_16": _variant(filters=16),
    "stem_stride_1": _variant(stem_strides=1),
    "threads_2": _variant(threads=2),
    "normalized_inputs": _variant(normalize_inputs=True),
    "unfused_batch_norm": _variant(unfused_batch_norm=True),
    "no_graph_optimization": _variant(graph_optimization=False),
    # Larger batches at the make-search default (no weight decay): on a CPU
    # a step of this small child costs about the same at batch 64 and 256.
    "step_batch_64": _variant(train_images=2048, weight_decay=0.0),
    "step_batch_128": _variant(train_images=2048, weight_decay=0.0, batch_size=128),
    "step_batch_256": _variant(train_images=2048, weight_decay=0.0, batch_size=256),
    # The make-search recipe (no weight decay) on more images: how long must
    # NASNet-A train to reach 0.88?
    "default_48k": _variant(train_images=48000, weight_decay=0.0),
    # ... and with twice the training (two epochs), or a twice wider child.
    "default_48k_2_epochs": _variant(train_images=48000, weight_decay=0.0, epochs=2),
    "default_48k_filters_16": _variant(
        train_images=48000, weight_decay=0.0, filters=16
    ),
    # make search's proxy (6,000 images, no weight decay) at smaller batches:
    # more updates for the same images, at what CPU cost?
    "search_6k": _variant(train_images=6000, weight_decay=0.0),
    "search_6k_batch_32": _variant(train_images=6000, weight_decay=0.0, batch_size=32),
    "search_6k_batch_16": _variant(train_images=6000, weight_decay=0.0, batch_size=16),
    "search_6k_batch_32_lr_0.05": _variant(
        train_images=6000, weight_decay=0.0, batch_size=32, learning_rate=0.05
    ),
    "search_6k_batch_16_lr_0.05": _variant(
        train_images=6000, weight_decay=0.0, batch_size=16, learning_rate=0.05
    ),
    "search_6k_lr_0.2": _variant(
        train_images=6000, weight_decay=0.0, learning_rate=0.2
    ),
    "search_6k_normalized": _variant(
        train_images=6000, weight_decay=0.0, normalize_inputs=True
    ),
    # ... and on more images at batch 32: what reaches 0.88?
    "search_12k_batch_32": _variant(
        train_images=12000, weight_decay=0.0, batch_size=32
    ),
    "search_24k_batch_32": _variant(
        train_images=24000, weight_decay=0.0, batch_size=32
    ),
    "search_48k_batch_32": _variant(
        train_images=48000, weight_decay=0.0, batch_size=32
    ),
    "search_24k_batch_32_filters_16": _variant(
        train_images=24000, weight_decay=0.0, batch_size=32, filters=16
    ),
    "search_24k_batch_32_filters_12": _variant(
        train_images=24000, weight_decay=0.0, batch_size=32, filters=12
    ),
    "search_12k_batch_32_2_epochs": _variant(
        train_images=12000, weight_decay=0.0, batch_size=32, epochs=2
    ),
    "search_24k_batch_32_lr_0.2": _variant(
        train_images=24000, weight_decay=0.0, batch_size=32, learning_rate=0.2
    ),
    "search_24k_batch_32_bfloat16": _variant(
        train_images=24000,
        weight_decay=0.0,
        batch_size=32,
        mixed_precision="mixed_bfloat16",
    ),
    # make search at 48,000 images a trial (15 trials): a higher peak there.
    "search_48k_batch_32_lr_0.2": _variant(
        train_images=48000, weight_decay=0.0, batch_size=32, learning_rate=0.2
    ),
    "eager_1k": _variant(train_images=1024, run_eagerly=True),
    "traced_1k": _variant(train_images=1024),
}
VALIDATION_IMAGES = 2000
SMOKE = {
    "smoke_eager": dict(
        recipe={**BASE["recipe"], "filters": 2, "run_eagerly": True},
        train_images=64,
        # The thread pools as the process has them: the smoke run trains in
        # the caller's process (a test's), whose pools are fixed already.
        threads=None,
        # One block of NASNet-A's normal cell, to keep the smoke run short.
        genotype="normal: sep_conv_5x5(0) + sep_conv_3x3(1); "
        "reduction: avg_pool_3x3(0) + identity(1)",
    ),
}


def _read_progress(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
    return rows


def _key(row):
    # Rows measured before FusedBatchNormalization existed carry no flag.
    fused = row.get("fused_batch_norm", False)
    if fused or row["training"].get("unfused_batch_norm"):
        return row["name"]
    return row["name"] + " (before FusedBatchNormalization)"


def summarize(rows):
    """name -> the medians of its repeats (accuracy, CPU and wall phases)."""
    out = {}
    for name in dict.fromkeys(_key(r) for r in rows):
        runs = [r for r in rows if _key(r) == name]
        keys = [k for k, v in runs[0].items() if isinstance(v, (int, float))]
        summary = {"repeats": len(runs), "training": runs[0]["training"]}
        for key in keys:
            values = [r[key] for r in runs if r.get(key) is not None]
            if values:
                summary[key] = float(np.median(values))
                if len(values) > 1:
                    summary[key + "_range"] = [float(min(values)), float(max(values))]
        out[name] = summary
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="comma-separated names")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--progress", default=None)
    parser.add_argument("--output", default=None)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="one tiny eager training, in seconds, in this process (its "
        "threads left as they are)",
    )
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    sweep = SMOKE if args.smoke else SWEEP
    validation_images = 32 if args.smoke else VALIDATION_IMAGES
    names = args.only.split(",") if args.only else list(sweep)
    unknown = [n for n in names if n not in sweep]
    if unknown:
        parser.error(f"unknown --only names: {unknown}; known: {list(sweep)}")
    name = "proxy_recipe" + ("_smoke" if args.smoke else "")
    output = args.output or _common.default_output(name)
    progress = args.progress or os.path.splitext(output)[0] + ".jsonl"
    report = _common.header("proxy_recipe")
    rows = _read_progress(progress)
    for repeat in range(args.repeats):
        for run_name in names if not args.report_only else []:
            if sum(_key(r) == run_name for r in rows) > repeat:
                continue
            training = sweep[run_name]
            payload = dict(
                genotype=training.get("genotype", "nasnet_a"),
                recipe=training["recipe"],
                train_images=training["train_images"],
                validation_images=validation_images,
                threads=training["threads"],
                normalize_inputs=training.get("normalize_inputs", False),
                unfused_batch_norm=training.get("unfused_batch_norm", False),
                graph_optimization=training.get("graph_optimization"),
                data_dir=args.data_dir,
                seed=repeat,
                warm_up=not args.smoke,
            )
            if args.smoke:  # in this process: seconds, not minutes
                result = proxy_train.run_payload(payload)
            else:
                result = proxy_train.run_isolated(payload)
            row = {"name": run_name, "seed": repeat, "training": training, **result}
            rows.append(row)
            with open(progress, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(
                f"{run_name} (seed {repeat}): val {row['val_accuracy']:.4f}, "
                f"{row['cpu_trial']:.1f} CPU-s, {row['wall_trial']:.1f} s, "
                f"load {row['load_average']}",
                file=sys.stderr,
                flush=True,
            )
    report.update(
        {
            "genotype": "nasnet_a",
            "validation_images": validation_images,
            "base": BASE,
            "progress_file": os.path.relpath(progress, os.path.dirname(output)),
            "results": summarize(rows),
        }
    )
    _common.write(report, output)


if __name__ == "__main__":
    main()
