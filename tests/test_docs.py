"""The documentation site builds with no warning, its API reference covers every public name, and every public
docstring follows the house style (Google: a summary, Args, an Example)."""

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = [
    "keras_spiking_rnn",
    "keras_spiking_rnn.cells",
    "keras_spiking_rnn.analysis",
    "keras_spiking_rnn.data",
    "keras_spiking_rnn.quantization",
    "keras_spiking_rnn.export",
]


def public_names():
    """(module, name, object) for every name in the public modules' ``__all__``, classes and functions only."""
    found = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                found.setdefault(value, (module_name, name))
    surrogates = importlib.import_module("keras_spiking_rnn.surrogates")
    for name in ("Surrogate", "MultiGaussian", "Gaussian", "Linear", "SLayer", "FastSigmoid", "Arctan"):
        found.setdefault(getattr(surrogates, name), ("keras_spiking_rnn.surrogates", name))
    for name in ("StraightThrough", "get", "available", "register_surrogate"):
        found.setdefault(getattr(surrogates, name), ("keras_spiking_rnn.surrogates", name))
    return [(module, name, value) for value, (module, name) in found.items()]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, build.stderr[-4000:]
    return out


def test_site_builds_strictly_with_every_page(site):
    pages = ("getting-started", "neuron-models", "adding-a-neuron", "surrogates", "training", "deployment", "analysis")
    for page in (*pages, "benchmarks"):
        assert (site / page / "index.html").exists(), page
    adding = (site / "adding-a-neuron" / "index.html").read_text()
    assert "int8_parameters" in adding and "register_neuron" in adding  # examples/custom_neuron.py is included
    deployment = (site / "deployment" / "index.html").read_text()
    assert "The generated files" in deployment  # export/README.md is included, not copied


def test_api_reference_documents_every_public_name(site):
    html = "".join(p.read_text() for p in (site / "api").rglob("*.html"))
    anchors = set(re.findall(r'id="(keras_spiking_rnn[\w.]*)"', html))  # mkdocstrings: one id per object
    documented = {anchor.rsplit(".", 1)[-1] for anchor in anchors}
    missing = [f"{module}.{name}" for module, name, value in public_names() if value.__qualname__ not in documented]
    assert not missing, f"not in the API reference: {missing}"


@pytest.mark.parametrize("module, name, value", public_names(), ids=lambda v: v if isinstance(v, str) else "")
def test_public_docstrings_follow_the_house_style(module, name, value):
    doc = inspect.getdoc(value) or ""
    assert doc.strip(), f"{module}.{name} has no docstring"
    assert "Examples:" in doc, f"{module}.{name}: no Examples section"
    target = value.__init__ if inspect.isclass(value) else value
    try:
        parameters = [p for p in inspect.signature(target).parameters if p not in ("self", "cls", "args", "kwargs")]
    except (TypeError, ValueError):
        parameters = []
    if parameters and inspect.isfunction(target):  # dataclasses list their fields as Attributes
        assert "Args:" in doc or "Attributes:" in doc, f"{module}.{name}: parameters {parameters} but no Args section"
