"""Loading saved models the way Keras users do: `import keras_nasnet`, then
`keras.models.load_model(path)`, in a fresh interpreter.

Keras finds the package's classes only once the modules defining them have
run; `import keras_nasnet` registers them as soon as Keras is imported
(`keras_nasnet._registration`) without importing Keras itself.
"""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Keras's TF backend saves variables with np.array(), which numpy 2 flags.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def _fresh_python(code, **env):
    """Runs `code` in a new interpreter with this checkout importable."""
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [REPO, os.environ.get("PYTHONPATH")])
        ),
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environ,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_import_keras_nasnet_imports_no_keras():
    out = _fresh_python(
        "import sys, keras_nasnet\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('keras', 'tensorflow', 'jax', 'keras_tuner')))\n"
    )
    assert out.strip() == "[]"


# In the fresh interpreter: load each file, check its class and its outputs.
_LOAD = """
import keras_nasnet
import keras
import numpy as np
for path, class_name in {files!r}:
    model = keras.models.load_model(path)
    x = np.load(path + ".x.npy")
    expected = np.load(path + ".y.npy")
    got = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    print("LOADED", type(model).__name__, class_name)
"""


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory, fashion):
    """`[(path, class name)]`: a `NASNet.save()` and `train`'s inference model.

    Each `path.x.npy`/`path.y.npy` holds inputs and the outputs they gave.
    """
    import keras

    from keras_nasnet import training
    from keras_nasnet.data import Splits
    from keras_nasnet.models import NASNet

    # Every op of NASNet-A in two blocks a cell: the classes a file names are
    # the same, and a smaller graph loads faster.
    from tests.test_export import GENOTYPE

    directory = tmp_path_factory.mktemp("saved")
    files = []

    def save(model, name, x):
        path = str(directory / name)
        model.save(path)
        np.save(path + ".x.npy", x)
        np.save(path + ".y.npy", keras.ops.convert_to_numpy(model(x, training=False)))
        files.append((path, type(model).__name__))

    nasnet = NASNet(
        GENOTYPE, cells_per_stack=1, filters=4, input_shape=(16, 16, 3), num_classes=3
    )
    save(nasnet, "nasnet.keras", np.random.default_rng(0).random((2, 16, 16, 3)))

    # What `keras-nasnet train` saves: TrainResult.model, the deterministic
    # input pipeline then the trained network, in a Functional model.
    train, validation = fashion(16, 8)
    splits = Splits(train, validation, None, 10, train[0].shape[1:], class_names=())
    # Eager: one step needs no compiled training graph (minutes on 2 cores).
    recipe = dataclasses.replace(
        training.PROXY,
        epochs=1,
        batch_size=8,
        cells_per_stack=1,
        filters=4,
        run_eagerly=True,
    )
    result = training.train(
        training.build_model(GENOTYPE, splits, recipe), splits, recipe, verbose=0
    )
    save(result.model, "train-output.keras", validation[0][:2])
    return files


@pytest.mark.slow
def test_load_model_after_import_keras_nasnet(saved_models):
    out = _fresh_python(_LOAD.format(files=saved_models))
    loaded = [
        line.split()[1:] for line in out.splitlines() if line.startswith("LOADED")
    ]
    assert loaded == [["NASNet", "NASNet"], ["Functional", "Functional"]]


@pytest.mark.slow
@pytest.mark.parametrize(
    "first",
    ["keras", "keras_nasnet.layers.ops", "keras_nasnet.data"],
)
def test_any_first_import_registers_every_class(first):
    # Keras imported first: `import keras_nasnet` registers at once. Else the
    # registration runs when Keras's import finishes, possibly in the middle
    # of one of our own imports: it must complete whichever it is. The order
    # of imports is the point, not the backend: JAX imports in half of
    # TensorFlow's time (the TensorFlow backend's registration is
    # test_load_model_after_import_keras_nasnet's).
    out = _fresh_python(
        KERAS_BACKEND="jax",
        JAX_PLATFORMS="cpu",
        code=f"import {first}\n"
        "import keras\n"
        "import keras_nasnet\n"
        "names = ['NASNet', 'NASNetCell', 'AuxiliaryHead', 'ScheduledDropPath', "
        "'RandomPadCrop', 'Cutout']\n"
        "print([n for n in names "
        "if keras.saving.get_registered_object('keras_nasnet>' + n) is None])\n",
    )
    assert out.strip().splitlines()[-1] == "[]"
