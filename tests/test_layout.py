"""The package's layering: no import cycles, the library never imports the
command-line application, and no module reaches into another's private
names.  Read from the source (every import statement, function-level ones
included), not from what happens to be imported at run time."""

import ast
from pathlib import Path

import mireg

ROOT = Path(mireg.__file__).parent
PACKAGE = "mireg"


def _modules():
    """{dotted name: (path, is_package)} of every module of the package."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _imports(module, path, is_package, modules):
    """(imported module of ours, names taken from it) for each import."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")[: None if is_package else -1]
                parts = parts[: len(parts) - (node.level - 1)]
                source = ".".join(parts + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                out.append((sub, ()) if sub in modules else (source, (alias.name,)))
    return [(name, names) for name, names in out if name.split(".")[0] == PACKAGE]


def _graph():
    modules = _modules()
    graph = {m: set() for m in modules}
    private = []
    for module, (path, is_package) in modules.items():
        for name, names in _imports(module, path, is_package, modules):
            while name not in modules:
                name = name.rpartition(".")[0]
            if name != module:
                graph[module].add(name)
            private += [(module, name, n) for n in names if n.startswith("_")]
    return graph, private


def test_no_import_cycles():
    graph, _ = _graph()
    state = {}
    cycles = []

    def visit(module, trail):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target) :] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_library_never_imports_the_application():
    graph, _ = _graph()
    offenders = sorted(
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if target.startswith("mireg.cli")
        and not module.startswith("mireg.cli")
        and module != "mireg.__main__"
    )
    assert offenders == []


def test_no_module_imports_another_modules_private_names():
    _, private = _graph()
    # the package's own dunder names (__version__) are public by convention
    assert [p for p in private if not p[2].startswith("__")] == []


def test_public_names_load_on_first_use():
    import subprocess
    import sys

    code = (
        "import sys, mireg\n"
        "mireg.normalized_mutual_information\n"
        "heavy = ('scipy.optimize', 'skimage', 'mireg.registration', 'mireg._levels')\n"
        "print([m for m in heavy if m in sys.modules])\n"
        "print(mireg.register.__module__, mireg.transforms.__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "mireg.registration mireg.transforms"
    assert sorted(mireg.__all__) == sorted(n for n in dir(mireg) if n in mireg.__all__)
    try:
        mireg.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("an unknown name must raise AttributeError")
