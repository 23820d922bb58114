"""The NASNet builder: parameter counts, wiring, any genotype, training."""

import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_nasnet.callbacks import DropPathScheduler, drop_path_layers
from keras_nasnet.genotypes import AMOEBANET_A, NASNET_A
from keras_nasnet.models import NASNet, penultimate_multiplier
from keras_nasnet.space import Genotype, random_genotype

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _layer_checks import shape_only, trainable_count  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]

# One block per cell: every code path of a cell (prep, strided ops, drop path,
# concat fix-up) with a fifth of the graph, so that training tests trace fast.
TINY = Genotype.parse(
    "normal: sep_conv_3x3(0) + identity(1) -> [1, 2]\n"
    "reduction: max_pool_3x3(0) + sep_conv_3x3(1)"
)


@shape_only()
def test_nasnet_mobile_matches_keras_applications():
    model = NASNet(
        NASNET_A,
        cells_per_stack=4,
        penultimate_filters=1056,
        stem="imagenet",
        stem_multiplier=1,
        input_shape=(224, 224, 3),
        num_classes=1000,
    )
    reference = keras.applications.NASNetMobile(weights=None)
    assert model.filters == 44
    assert model.count_params() == reference.count_params() == 5_326_716
    assert trainable_count(model) == trainable_count(reference)


@shape_only()
def test_nasnet_large_matches_keras_applications():
    # keras.applications.NASNetLarge(weights=None).count_params() == 88,949,818
    # (not built here: it takes longer than ours, for the same number).
    model = NASNet(
        NASNET_A,
        cells_per_stack=6,
        penultimate_filters=4032,
        stem="imagenet",
        stem_multiplier=3,
        skip_reduction_layer_input=True,
        input_shape=(331, 331, 3),
        num_classes=1000,
    )
    assert model.filters == 168
    assert model.count_params() == 88_949_818


@shape_only()
def test_cifar_parameter_counts_match_the_papers():
    """Trainable parameters, as the papers count them (no BN moving stats).

    Measured: NASNet-A 6@768 (F=32) 3,346,538 trainable (3,383,786 with the BN
    moving statistics); paper 3.3M, slim 3.35M. AmoebaNet-A (N=6, F=36)
    3,218,266 (paper 3.2M); (N=6, F=32) 2,567,754 (2.6M).
    """
    nasnet = NASNet(NASNET_A, cells_per_stack=6, penultimate_filters=768)
    assert nasnet.filters == 32
    assert trainable_count(nasnet) == pytest.approx(3.3e6, abs=0.06e6)
    assert trainable_count(nasnet) == 3_346_538
    assert nasnet.count_params() == 3_383_786
    amoeba = NASNet(AMOEBANET_A, cells_per_stack=6, filters=36)
    assert amoeba.penultimate_filters == 16 * 36
    assert trainable_count(amoeba) == pytest.approx(3.2e6, abs=0.06e6)
    assert trainable_count(amoeba) == 3_218_266


def _check_random_genotypes(seeds):
    for seed in seeds:
        genotype = random_genotype(seed, combines=("add", "concat"))
        for stem, size in (("cifar", 12), ("imagenet", 35)):
            model = NASNet(
                genotype,
                cells_per_stack=1,
                filters=8,
                stem=stem,
                input_shape=(size, size, 3),
                num_classes=7,
                auxiliary_head=True,
            )
            # The graph has the main and the auxiliary outputs.
            assert [tuple(t.shape) for t in model.outputs] == [(None, 7)] * 2, (
                seed,
                stem,
            )
            last = model.get_layer("cell_2")
            expected = 8 * 4 * penultimate_multiplier(genotype) // 4
            assert last.output.shape[-1] == expected, (seed, stem, str(genotype))


@pytest.mark.slow
@shape_only()
def test_random_genotypes_build_with_both_stems():
    # A sample in CI; all 200 in test_200_random_genotypes_build (large).
    _check_random_genotypes(range(0, 200, 25))


@pytest.mark.large
def test_200_random_genotypes_build(request):
    # 400 models: 565 s on 2 shared CPU cores (Keras builds ~300 layers each).
    if "large" not in request.config.getoption("markexpr", ""):
        pytest.skip("slow: run with -m large")
    with shape_only():
        _check_random_genotypes(range(200))


@pytest.mark.parametrize("seed", [3, 11])
def test_random_genotype_runs_forward(seed):
    genotype = random_genotype(seed, combines=("add", "concat"))
    model = NASNet(
        genotype,
        cells_per_stack=1,
        filters=8,
        stem="imagenet",
        input_shape=(35, 35, 3),
        num_classes=4,
    )
    x = np.random.default_rng(seed).random((1, 35, 35, 3), "float32")
    y = keras.ops.convert_to_numpy(model(x, training=True))
    assert y.shape == (1, 4) and np.all(np.isfinite(y))


@shape_only()
def test_skip_reduction_layer_input_rewires_the_cell_after_a_reduction():
    def producers(model, cell_name):
        node = model.get_layer(cell_name)._inbound_nodes[0]
        return [t._keras_history.operation.name for t in node.input_tensors]

    plain = NASNet(NASNET_A, cells_per_stack=2, filters=8, input_shape=(16, 16, 3))
    skip = NASNet(
        NASNET_A,
        cells_per_stack=2,
        filters=8,
        input_shape=(16, 16, 3),
        skip_reduction_layer_input=True,
    )
    assert producers(plain, "reduction_cell_0") == ["cell_1", "cell_0"]
    assert producers(skip, "reduction_cell_0") == ["cell_1", "cell_0"]
    assert producers(plain, "cell_2") == ["reduction_cell_0", "cell_1"]
    assert producers(skip, "cell_2") == ["reduction_cell_0", "cell_0"]
    assert producers(skip, "cell_3") == ["cell_2", "reduction_cell_0"]
    assert producers(plain, "cell_0") == ["stem_bn"]
    assert plain.count_params() == skip.count_params()


@shape_only()
def test_cell_plan_and_drop_path_indices():
    model = NASNet(
        TINY,
        cells_per_stack=2,
        filters=8,
        stem="imagenet",
        input_shape=(35, 35, 3),
        drop_path_keep_prob=0.7,
    )
    cells = [layer for layer in model.layers if "cell" in layer.name]
    assert [c.name for c in cells] == [
        "stem_cell_0",
        "stem_cell_1",
        "cell_0",
        "cell_1",
        "reduction_cell_0",
        "cell_2",
        "cell_3",
        "reduction_cell_1",
        "cell_4",
        "cell_5",
    ]
    assert [c.filters for c in cells] == [2, 4, 8, 8, 16, 16, 16, 32, 32, 32]
    assert [c.cell_index for c in cells] == list(range(10))
    assert {d.total_cells for d in drop_path_layers(model)} == {10}


def test_get_config_is_the_constructor_arguments():
    kwargs = dict(
        cells_per_stack=1,
        penultimate_filters=48,
        stem="cifar",
        num_classes=3,
        input_shape=(8, 8, 3),
        auxiliary_head=True,
        drop_path_keep_prob=0.7,
        dropout=0.1,
        weight_decay=5e-4,
        classifier_activation=None,
    )
    with shape_only():
        model = NASNet(TINY, name="tiny", **kwargs)
        config = model.get_config()
        assert config == {
            "genotype": TINY.to_dict(),
            "filters": None,
            "stem_multiplier": None,
            "stem_strides": 1,
            "skip_reduction_layer_input": False,
            "aux_weight": 0.4,
            "drop_path_schedule": "nasnet",
            "bn_momentum": None,
            "bn_epsilon": None,
            "name": "tiny",
            "trainable": True,
            **{**kwargs, "input_shape": [8, 8, 3]},
        }
        clone = NASNet.from_config(config)
        assert clone.get_config() == config
        assert clone.count_params() == model.count_params()
    # TINY's normal cell concatenates 2 states: P = 4 * 2 * F.
    assert model.filters == 6 and model.bn_momentum == 0.9 and model.bn_epsilon == 1e-5


def test_stem_strides_halves_every_map_without_new_weights():
    with shape_only():
        plain = NASNet(NASNET_A, 1, filters=4, input_shape=(28, 28, 1))
        strided = NASNet(
            NASNET_A, 1, filters=4, input_shape=(28, 28, 1), stem_strides=2
        )
        assert strided.count_params() == plain.count_params()
        for name in ("stem_bn", "cell_0", "reduction_cell_0", "reduction_cell_1"):
            size = plain.get_layer(name).output.shape[1]
            assert strided.get_layer(name).output.shape[1] == -(-size // 2)
        assert NASNet.from_config(strided.get_config()).stem_strides == 2


def test_genotype_by_name_text_or_json():
    with shape_only():
        for genotype in (
            "nasnet_a",
            str(NASNET_A),
            NASNET_A.to_json(),
            NASNET_A.to_dict(),
        ):
            model = NASNet(
                genotype, cells_per_stack=1, filters=4, input_shape=(8, 8, 3)
            )
            assert model.genotype == NASNET_A


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(), "exactly one of `filters` and `penultimate_filters`"),
        (dict(filters=4, penultimate_filters=96), "exactly one"),
        (dict(penultimate_filters=100), r"multiple of 24 .* penultimate_filters=100"),
        (dict(filters=4, stem="imagenet"), r"`filters`. Expected an integer >= 8"),
        (dict(filters=4, stem="tpu"), "`stem`"),
        (dict(filters=4, cells_per_stack=0), "`cells_per_stack`"),
        (dict(filters=4, drop_path_keep_prob=0.0), "`drop_path_keep_prob`"),
        (dict(filters=4, dropout=1.0), "`dropout`"),
        (dict(filters=4, input_shape=(None, None, 3)), "`input_shape`"),
        (dict(filters=4, stem_strides=3), r"`stem_strides`. Expected 1 or 2"),
        (dict(filters=4, stem_strides=2.0), r"Received: stem_strides=2.0"),
        (dict(filters=8, stem="imagenet", stem_strides=2), "`stem_strides`"),
    ],
)
def test_invalid_arguments_are_named(kwargs, message):
    kwargs = {"cells_per_stack": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        NASNet(NASNET_A, **kwargs)


def test_aux_head_is_trained_and_hidden_at_inference():
    model = NASNet(
        TINY,
        cells_per_stack=1,
        filters=8,
        input_shape=(16, 16, 3),
        num_classes=3,
        auxiliary_head=True,
        aux_weight=0.5,
    )
    x = np.random.default_rng(0).random((4, 16, 16, 3), "float32")
    y = np.array([0, 1, 2, 1])
    assert model(x).shape == (4, 3)
    logits, aux = model(x, training=True)
    assert logits.shape == aux.shape == (4, 3)
    model.compile("sgd", "sparse_categorical_crossentropy")
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    total = model.compute_loss(x, y, (logits, aux))
    expected = loss_fn(y, logits) + 0.5 * loss_fn(y, aux)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(total),
        keras.ops.convert_to_numpy(expected),
        rtol=1e-5,
    )
    assert model.predict(x, verbose=0).shape == (4, 3)


def test_fit_one_batch_tensorflow():
    model = NASNet(
        TINY,
        cells_per_stack=1,
        filters=8,
        input_shape=(16, 16, 3),
        num_classes=3,
        auxiliary_head=True,
        drop_path_keep_prob=0.6,
        weight_decay=5e-4,
    )
    model.compile(
        "sgd",
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,
    )
    x = np.random.default_rng(0).random((4, 16, 16, 3), "float32")
    history = model.fit(
        x,
        np.array([0, 1, 2, 1]),
        batch_size=4,
        epochs=2,
        verbose=0,
        callbacks=[DropPathScheduler()],
    )
    assert np.all(np.isfinite(history.history["loss"]))
    assert set(history.history) == {"loss", "accuracy"}
    assert drop_path_layers(model)[0].progress.numpy() == pytest.approx(0.5)


JAX_FIT = textwrap.dedent(
    """
    import numpy as np
    from keras_nasnet.callbacks import DropPathScheduler, drop_path_layers
    from keras_nasnet.models import NASNet
    from keras_nasnet.space import Genotype

    genotype = Genotype.parse({text!r})
    model = NASNet(genotype, cells_per_stack=1, filters=8, input_shape=(16, 16, 3),
                   num_classes=3, auxiliary_head=True, drop_path_keep_prob=0.6,
                   weight_decay=5e-4)
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((4, 16, 16, 3), "float32")
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit(x, np.array([0, 1, 2, 1]), batch_size=2, epochs=1,
                        verbose=0, callbacks=[DropPathScheduler()])
    changed = any(np.any(w.numpy() != b) for w, b in zip(model.trainable_weights, before))
    progress = float(drop_path_layers(model)[0].progress.numpy())
    print("RESULT", history.history["loss"][0], changed, progress,
          model.compute_output_shape((4, 16, 16, 3)))
    """
)


@pytest.mark.slow
def test_fit_one_batch_jax():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    code = JAX_FIT.format(text=str(TINY))
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = [line for line in result.stdout.splitlines() if line.startswith("RESULT")][
        -1
    ]
    _, loss, changed, progress, shape = line.split(" ", 4)
    assert np.isfinite(float(loss))
    assert changed == "True"
    assert float(progress) == 0.5  # the second of two steps
    assert shape == "(4, 3)"
