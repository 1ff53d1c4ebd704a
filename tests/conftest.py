import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield


def step_through(cell, x):
    """Runs a built cell one timestep at a time (eagerly) and stacks every state: {name: (batch, time, units)}."""
    states = cell.get_initial_state(batch_size=x.shape[0])
    history = {name: [] for name in cell.state_names}
    for t in range(x.shape[1]):
        _, states = cell(x[:, t], states)
        for name, state in zip(cell.state_names, states):
            history[name].append(keras.ops.convert_to_numpy(state))
    return {k: np.stack(v, 1) for k, v in history.items()}


def weights_of(cell):
    """The cell's weights as float64 NumPy arrays, by name."""
    return {w.name: np.asarray(keras.ops.convert_to_numpy(w.value), dtype="float64") for w in cell.weights}


def random_cell(cls, units, inputs, seed, kernel_std=1.0, recurrent_std=0.5, **kwargs):
    """A float64 cell of type ``cls``, built for ``inputs`` features, with random weights (bias std 0.1)."""
    cell = cls(units, dtype="float64", **kwargs)
    cell.build((None, inputs))
    rng = np.random.default_rng(seed)
    cell.kernel.assign(rng.normal(0, kernel_std, cell.kernel.shape))
    if cell.recurrent_kernel is not None:
        cell.recurrent_kernel.assign(rng.normal(0, recurrent_std, cell.recurrent_kernel.shape))
    cell.bias.assign(rng.normal(0, 0.1, cell.bias.shape))
    return cell


def load_script(relative_path):
    """Imports a script of the repository (examples/, benchmarks/) as a module, by its path from the root."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
