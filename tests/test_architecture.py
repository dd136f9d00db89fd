"""The import graph of ``src/iodvideo`` flows one way (static: imports parsed with ``ast``).

Every ``import`` / ``from ... import`` counts, at module level or inside a function, including
``TYPE_CHECKING`` blocks: a function-level import is still a dependency. The layers, lowest
first, and what may import what:

* utilities (errors, safe_pickle, hardware, allocator, config, tensor_ops, plotting) < data
  < models < losses < detections < original_checkpoint < checkpointing
  < evaluation / inference < training < CLIs;
* ``detections`` (decoding, linking: what inference runs) imports nothing from ``losses``
  (training objectives) although it sits above them: the tensor helper both need
  (``tensor_ops.gather_at``) is a utility;
* ``checkpointing`` (checkpoint file → detector + decoder settings) sits just above
  ``detections`` and ``original_checkpoint``: inference (``ClipRunner.from_checkpoint``) and
  every CLI load through it, and the Lightning module takes its ``CONFIG_KEY`` from it;
* evaluation and inference share a layer and never import each other;
* the ``training`` package (Lightning module, schedules, callbacks, BatchNorm calibration,
  ``init_from``) is one unit above both;
* CLIs import downward only: no library module and no other CLI imports a CLI.

A module may import anything of a lower layer and, except where forbidden above, of its own
layer; no import cycle between modules or between these units. No source file exceeds 400
lines. A new top-level module or package must be placed in :data:`LAYERS` to pass.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "iodvideo"
MAX_LINES = 400

LAYERS: tuple[tuple[str, ...], ...] = (
    # "" = iodvideo/__init__
    ("", "errors", "safe_pickle", "hardware", "allocator", "config", "tensor_ops", "plotting"),
    ("data",),
    ("models",),
    ("losses",),
    ("detections",),
    ("original_checkpoint",),
    ("checkpointing",),
    ("evaluation", "inference"),
    ("training",),
    ("train", "eval", "predict", "monitor", "export", "synth", "convert_checkpoint",
     "diagnose"),
)
CLIS = frozenset(LAYERS[-1])
# never import each other, whatever their layers: evaluation and inference share one, and the
# decoder (detections, below inference) must not pull in the training objectives (losses)
APART = frozenset({frozenset({"evaluation", "inference"}), frozenset({"detections", "losses"})})

Graph = dict[str, set[str]]


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(name: str, modules: set[str]) -> str | None:
    """The longest known module that ``name`` is or lies in (an imported function or class
    belongs to its module); None outside the package."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, tree: ast.AST, is_package: bool, modules: set[str]) -> set[str]:
    """Package modules that ``module`` imports anywhere in its source."""
    found: set[str] = set()
    own_package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = own_package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                     for alias in node.names]
        else:
            continue
        found |= {target for n in names if (target := _resolve(n, modules)) is not None}
    found.discard(module)
    return found


def import_graph(root: Path = SRC) -> Graph:
    files = {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))}
    modules = set(files)
    return {
        name: imports_of(name, ast.parse(path.read_text(), str(path)),
                         path.name == "__init__.py", modules)
        for name, path in files.items()
    }


def unit_of(module: str) -> str:
    """The top-level module or package under ``iodvideo`` a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_of(unit: str) -> int:
    for index, units in enumerate(LAYERS):
        if unit in units:
            return index
    raise KeyError(unit)


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def unit_graph(graph: Mapping[str, Iterable[str]]) -> Graph:
    units: Graph = {}
    for module, targets in graph.items():
        edges = units.setdefault(unit_of(module), set())
        edges |= {unit_of(t) for t in targets} - {unit_of(module)}
    return units


def violations(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Every import that goes up a layer, between units kept apart, or into a CLI."""
    out = []
    for module, targets in sorted(graph.items()):
        source = unit_of(module)
        for target in sorted(targets):
            dest = unit_of(target)
            if dest == source:
                continue
            if dest in CLIS:
                out.append(f"{module} imports the CLI module {target}")
            elif layer_of(dest) > layer_of(source):
                out.append(f"{module} (layer {layer_of(source)}) imports {target} "
                           f"(layer {layer_of(dest)}, higher)")
            elif frozenset({source, dest}) in APART:
                out.append(f"{module} imports {target}: {source} and {dest} must not meet")
    return out


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph()


def test_every_unit_has_a_layer(graph: Graph) -> None:
    unplaced = sorted({unit_of(m) for m in graph} - {u for layer in LAYERS for u in layer})
    assert not unplaced, f"place these in LAYERS (tests/test_architecture.py): {unplaced}"
    assert {"iodvideo.detections.batch", "iodvideo.evaluation.frame_ap"} <= set(graph)


def test_imports_go_down_the_layers_only(graph: Graph) -> None:
    assert violations(graph) == []


def test_detections_import_nothing_of_losses_or_training(graph: Graph) -> None:
    """Inference decodes through ``detections``; it must not need the training code."""
    wrong = {m: sorted(t for t in targets if unit_of(t) in {"losses", "training"})
             for m, targets in graph.items() if unit_of(m) == "detections"}
    assert {m: t for m, t in wrong.items() if t} == {}
    assert "iodvideo.tensor_ops" in graph["iodvideo.detections.decode"]


def test_no_import_cycles_between_modules_or_units(graph: Graph) -> None:
    assert cycles(graph) == []
    assert cycles(unit_graph(graph)) == []


def test_no_source_file_is_too_long() -> None:
    lengths = {str(p.relative_to(SRC)): len(p.read_text().splitlines())
               for p in (SRC / PACKAGE).rglob("*.py")}
    assert {p: n for p, n in lengths.items() if n > MAX_LINES} == {}


def test_the_checker_finds_what_it_forbids() -> None:
    """Each rule flags a hand-made offender, and a function-level relative import counts."""
    toy = {
        "iodvideo.data.a": {"iodvideo.models.m"},  # upward
        "iodvideo.models.m": {"iodvideo.data.a"},  # cycle with the line above
        "iodvideo.inference.i": {"iodvideo.evaluation.e"},  # kept apart
        "iodvideo.evaluation.e": {"iodvideo.eval"},  # into a CLI
        "iodvideo.eval": set(),
        "iodvideo.detections.decode": {"iodvideo.losses.regression"},  # downward, kept apart
    }
    found = violations(toy)
    assert len(found) == 4 and "higher" in found[0]
    assert "iodvideo.detections.decode imports iodvideo.losses.regression" in found[1]
    assert any("must not meet" in v for v in found) and any("CLI" in v for v in found)
    assert cycles(toy) == [["iodvideo.data.a", "iodvideo.models.m"]]
    assert cycles(unit_graph(toy)) == [["data", "models"]]
    source = "def f():\n    from ..detections import iou\n    from . import frame_ap\n"
    modules = {"iodvideo.detections", "iodvideo.detections.iou", "iodvideo.evaluation",
               "iodvideo.evaluation.frame_ap", "iodvideo.evaluation.tubes"}
    assert imports_of("iodvideo.evaluation.tubes", ast.parse(source), False, modules) == {
        "iodvideo.detections.iou", "iodvideo.evaluation.frame_ap"}
