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
