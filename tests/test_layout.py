"""The layout is the architecture: a neuron is one module, and the stages below it never name one.

Read from the source's syntax trees (docstrings and comments do not count, names in code do).
"""

import ast
from pathlib import Path

import pytest

import keras_spiking_rnn  # noqa: F401  (registers the built-in neurons)
from keras_spiking_rnn.cells.neuron import registered_neurons

PACKAGE = Path(keras_spiking_rnn.__file__).resolve().parent


def names_in_code(path: Path) -> set[str]:
    """Every identifier a module's code uses or defines: names, attributes, imports, functions and classes."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(alias.name.split(".")[-1] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found.add(node.name)
    return found


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def modules_naming_neurons(package: Path, neurons: dict[str, Path]) -> dict[str, list[str]]:
    """``{module: [neuron classes it names]}`` for every module other than ``__init__``s and a neuron's own."""
    naming = {}
    for path in sorted(package.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        named = sorted(cls for cls, home in neurons.items() if home != path and cls in names_in_code(path))
        if named:
            naming[str(path.relative_to(package))] = named
    return naming


def built_in_neurons() -> dict[str, Path]:
    """The package's own neuron classes by name, with the module that defines each."""
    import sys

    homes = {}
    for cls in registered_neurons().values():
        if cls.__module__.startswith("keras_spiking_rnn."):
            homes[cls.__name__] = Path(sys.modules[cls.__module__].__file__).resolve()
    return homes


def test_no_library_module_but_a_neurons_own_names_a_concrete_neuron_class():
    neurons = built_in_neurons()
    assert {"LIFCell", "ALIFCell", "GatedSpikingCell", "LeakyIntegratorCell"} <= set(neurons)
    assert modules_naming_neurons(PACKAGE, neurons) == {}


def test_each_built_in_neuron_is_one_module_of_cells():
    for name, home in built_in_neurons().items():
        assert home.parent == PACKAGE / "cells", name
        code = names_in_code(home)
        for member in ("update", "int8_step", "int8_parameters", "int8_sites", "neuron_update_operations"):
            assert member in code, f"{home.name} lacks {member}"


@pytest.mark.parametrize(
    "below, above",
    [
        ("int8", ("keras_spiking_rnn.quantization", "keras_spiking_rnn.export", "keras_spiking_rnn.cells")),
        ("graph.py", ("keras_spiking_rnn.quantization", "keras_spiking_rnn.export", "keras_spiking_rnn.cells")),
        ("adjoints.py", ("keras_spiking_rnn.cells", "keras_spiking_rnn.bptt")),
        ("cells", ("keras_spiking_rnn.quantization", "keras_spiking_rnn.export", "keras_spiking_rnn.layers")),
        ("quantization", ("keras_spiking_rnn.export",)),
        ("export", ("keras_spiking_rnn.quantization",)),
    ],
)
def test_layers_import_only_downwards(below, above):
    root = PACKAGE / below
    paths = [root] if root.is_file() else sorted(root.rglob("*.py"))
    for path in paths:
        wrong = sorted(m for m in imported_modules(path) if m.startswith(above))
        assert not wrong, f"{path.relative_to(PACKAGE)} imports {wrong}"
