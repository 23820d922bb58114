"""The cost of a child: analytic params and MACs against built models, the
layer MAC counter, and measured latency."""

import os
import pathlib
import subprocess
import sys

import keras
import pytest

from keras_nasnet.genotypes import (
    AMOEBANET_A,
    AMOEBANET_C,
    NASNET_A,
    NASNET_A_LARGE,
    NASNET_A_MOBILE,
)
from keras_nasnet.models import NASNet, penultimate_multiplier
from keras_nasnet.models.measure import Latency, count_macs, measure_latency
from keras_nasnet.space import (
    ALL_OPS,
    AMOEBANET_OPS,
    NASNET_OPS,
    Genotype,
    cost,
    random_genotype,
)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _layer_checks import shape_only, trainable_count  # noqa: E402

# One block per cell: a child that traces fast.
TINY = Genotype.parse(
    "normal: sep_conv_3x3(0) + identity(1) -> [1, 2]\n"
    "reduction: max_pool_3x3(0) + sep_conv_3x3(1)"
)


def test_published_nasnet_a_counts():
    # Keras's NASNetMobile/NASNetLarge(weights=None).count_params(); the
    # paper's mult-adds (table 2 and 3): 564M mobile, 23.8B large.
    mobile = cost.network_cost(NASNET_A, **NASNET_A_MOBILE)
    assert mobile.params == 5_326_716
    assert mobile.macs == pytest.approx(564e6, rel=0.01)
    large = cost.network_cost(NASNET_A, **NASNET_A_LARGE)
    assert large.params == 88_949_818
    assert large.macs == pytest.approx(23.8e9, rel=0.01)


def test_cifar_counts_match_the_builder_s_published_sizes():
    # tests/test_model.py: NASNet-A 6@768 3,383,786 (3,346,538 trainable);
    # AmoebaNet-A (N=6, F=36) 3,218,266 trainable.
    nasnet = cost.network_cost(NASNET_A, 6, penultimate_filters=768)
    assert (nasnet.params, nasnet.trainable_params) == (3_383_786, 3_346_538)
    assert cost.network_cost(AMOEBANET_A, 6, filters=36).trainable_params == (3_218_266)
    assert cost.params(NASNET_A, 6, penultimate_filters=768) == nasnet.params
    assert cost.macs(NASNET_A, 6, penultimate_filters=768) == nasnet.macs


def _sizes(seed):
    """Both stems (the CIFAR one at strides 1 and 2), and a size setting that
    varies with the seed."""
    channels = 3 if seed % 2 else 1
    common = dict(
        cells_per_stack=1,
        num_classes=7,
        # F = 12 puts an odd F // 4 = 3 into the ImageNet stem cells.
        filters=12 if seed % 3 == 0 else 8,
        auxiliary_head=seed % 4 == 0,
    )
    yield dict(common, stem="cifar", input_shape=(28, 28, channels))
    yield dict(common, stem="imagenet", input_shape=(33, 35, channels))
    # The search proxy's stride-2 CIFAR stem, on an odd width.
    yield dict(common, stem="cifar", stem_strides=2, input_shape=(28, 27, channels))


def _genotype(seed):
    # The 13 NASNet ops, AmoebaNet's 8 (with its dilated separable conv), and
    # all 14, each with both combine methods.
    ops = (NASNET_OPS, AMOEBANET_OPS, ALL_OPS)[seed % 3]
    return random_genotype(seed, ops=ops, combines=("add", "concat"))


def _check_against_built(seeds):
    # The libraries' objects are frozen for the collector for the whole
    # session (tests/conftest.py), as a search freezes them.
    for seed in seeds:
        genotype = _genotype(seed)
        for sizes in _sizes(seed):
            with shape_only():
                model = NASNet(genotype, **sizes)
                built = (model.count_params(), trainable_count(model))
                counted = count_macs(model)
            expected = cost.network_cost(genotype, **sizes)
            where = (seed, sizes["stem"], str(genotype))
            assert built == (expected.params, expected.trainable_params), where
            # Within 1% is the target; the count is exact.
            assert counted == expected.macs, where


def test_random_genotypes_match_built_models():
    _check_against_built(range(4))


def test_published_genotypes_match_built_models():
    for genotype in (NASNET_A, AMOEBANET_A, AMOEBANET_C):
        sizes = dict(
            cells_per_stack=2,
            filters=6,
            skip_reduction_layer_input=True,
            stem_multiplier=2,
            input_shape=(17, 15, 3),
            auxiliary_head=True,
        )
        with shape_only():
            model = NASNet(genotype, **sizes)
            built = (model.count_params(), trainable_count(model), count_macs(model))
        expected = cost.network_cost(genotype, **sizes)
        assert built == (expected.params, expected.trainable_params, expected.macs)


def _check_against_built_on_jax(seeds):
    # The same check in a fresh interpreter on Keras's JAX backend: there a
    # shape-only build skips TensorFlow's object tracking (a third of a
    # build's time on TensorFlow) and the import costs half TensorFlow's.
    # The counts cannot depend on the backend; seeds 0-3 are built on
    # TensorFlow above.
    code = (
        "import gc, sys\n"
        f"sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})\n"
        "import test_cost\n"
        "gc.collect(); gc.freeze()\n"
        f"test_cost._check_against_built({list(seeds)!r})\n"
        "import keras; print(keras.backend.backend())\n"
    )
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": os.pathsep.join(
            [str(pathlib.Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-1] == "jax"


@pytest.mark.slow
def test_more_random_genotypes_match_built_models():
    # A sample in CI; all 200 in test_200_random_genotypes_match_built_models.
    _check_against_built_on_jax(range(4, 24))


@pytest.mark.large
def test_200_random_genotypes_match_built_models(request):
    # 200 genotypes at three sizes each (with two, 400 models took 841 s on
    # TensorFlow on 2 shared CPU cores, load 4-6).
    if "large" not in request.config.getoption("markexpr", ""):
        pytest.skip("slow: run with -m large")
    _check_against_built_on_jax(range(200))


@pytest.mark.slow
def test_count_macs_of_keras_nasnet_mobile_matches_the_analytic_count():
    # An independent build of the same network: Keras's own NASNetMobile.
    with shape_only():
        reference = keras.applications.NASNetMobile(weights=None)
        counted = count_macs(reference)
    assert counted == cost.macs(NASNET_A, **NASNET_A_MOBILE)


def test_penultimate_multiplier_agrees_with_the_builder_s():
    for seed in range(20):
        genotype = _genotype(seed)
        assert cost.penultimate_multiplier(genotype) == penultimate_multiplier(genotype)
    assert cost.network_cost(NASNET_A, 1, penultimate_filters=96) == cost.network_cost(
        NASNET_A, 1, filters=4
    )


def test_the_cost_model_imports_no_keras():
    code = (
        "import sys\n"
        "from keras_nasnet.genotypes import NASNET_A\n"
        "from keras_nasnet.space import cost\n"
        "cost.network_cost(NASNET_A, 1, filters=8)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'keras_tuner', 'jax', 'torch'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        (dict(filters=8, stem="mobile"), "stem"),
        (dict(), "filters"),
        (dict(filters=8, penultimate_filters=96), "filters"),
        (dict(penultimate_filters=100), "penultimate_filters"),
        (dict(filters=4, stem="imagenet"), "filters"),
        (dict(filters=8, stem_multiplier=0), "stem_multiplier"),
        (dict(filters=8, num_classes=0), "num_classes"),
        (dict(filters=8, input_shape=(32, 32)), "input_shape"),
        (dict(filters=8, input_shape=(2, 2, 3), stem="imagenet"), "input_shape"),
    ],
)
def test_bad_sizes_are_refused_naming_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"argument `{argument}`"):
        cost.network_cost(NASNET_A, 1, **kwargs)


def test_a_genotype_must_be_a_genotype():
    with pytest.raises(ValueError, match="argument `genotype`"):
        cost.params(str(NASNET_A), 1, filters=8)
    with pytest.raises(ValueError, match="argument `cells_per_stack`"):
        cost.macs(NASNET_A, 0, filters=8)


def test_count_macs_counts_convolutions_and_dense_layers():
    inputs = keras.Input((9, 9, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)  # 5x5 out
    x = keras.layers.DepthwiseConv2D(3, padding="valid")(x)  # 3x3 out
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.SeparableConv2D(6, 3, padding="same")(x)  # 3x3 out
    x = keras.layers.MaxPooling2D(3)(x)
    x = keras.layers.Reshape((1, 6))(x)
    x = keras.layers.Dense(5)(x)
    model = keras.Model(inputs, x)
    expected = (
        25 * (3 * 3 * 3 * 4)  # conv
        + 9 * (3 * 3 * 4)  # depthwise
        + 9 * (3 * 3 * 4 + 4 * 6)  # separable: depthwise + pointwise
        + 1 * (6 * 5)  # dense on one position
    )
    assert count_macs(model) == expected


def test_count_macs_sees_nested_layers_and_refuses_unbuilt_ones():
    with shape_only():
        conv = keras.layers.Conv2D(8, 1)
        outer = keras.Sequential([keras.Input((4, 4, 2)), conv])
        assert count_macs(outer) == count_macs(conv) == 16 * 2 * 8
    with pytest.raises(ValueError, match="argument `model`.*not built"):
        count_macs(keras.layers.Dense(3))


def test_measure_latency_per_example():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    latency = measure_latency(model, batch_size=2, warmup=2, runs=7)
    assert isinstance(latency, Latency)
    assert (latency.runs, latency.batch_size) == (7, 2)
    assert 0 < latency.p10_ms <= latency.median_ms <= latency.p90_ms
    assert latency.spread >= 0


def test_measure_latency_of_a_child_with_an_auxiliary_head():
    # Inference runs the main output only; the model must not fail on it.
    model = NASNet(
        TINY,
        1,
        filters=4,
        input_shape=(8, 8, 1),
        num_classes=3,
        auxiliary_head=True,
    )
    latency = measure_latency(model, warmup=1, runs=3)
    assert latency.median_ms > 0


def test_measure_latency_refuses_what_cannot_run():
    with pytest.raises(ValueError, match="argument `runs`"):
        measure_latency(keras.Sequential([keras.layers.Dense(2)]), runs=0)
    with pytest.raises(ValueError, match="argument `model`.*one input"):
        measure_latency(keras.Sequential([keras.layers.Dense(2)]))
    inputs = keras.Input((None, None, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    with pytest.raises(ValueError, match="argument `model`.*static sizes"):
        measure_latency(keras.Model(inputs, pooled))

    class Broken(keras.layers.Layer):
        # Builds into a functional model (shapes only), fails when run.
        def compute_output_shape(self, input_shape):
            return input_shape

        def call(self, x):
            raise RuntimeError("cannot run here")

    inputs = keras.Input((2,))
    with pytest.raises(ValueError, match="argument `model`.*cannot run here"):
        measure_latency(keras.Model(inputs, Broken()(inputs)))


@pytest.mark.slow
def test_child_cost_benchmark_runs(run_benchmark_in_process, tmp_path):
    args = "--analytic-genotypes 3 --genotypes 0 --repeats 2 --runs 2 --warmup 1"
    args += " --filters 4 --image-size 8"
    report = run_benchmark_in_process("child_cost", args.split(), tmp_path)
    assert report["analytic"]["nasnet_a_mobile"]["params"] == 5_326_716
    children = report["latency"]["children"]
    assert set(children) == {"nasnet_a", "amoebanet_a"}
    for child in children.values():
        assert len(child["measurements"]) == 2
        assert child["median_ms"] > 0
