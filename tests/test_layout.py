"""The shape of the code a maintainer relies on: imports go one way (in the packages, the tests,
the benchmarks and the evaluation alike), modules stay readable, `reference_index` is its store,
its search structures and its experiments, reached through their faces, and only the channels
(and the CLI, demo and configuration that name them for users) know which channels exist."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("auditor", "reference_index")
EVERYWHERE = ("auditor", "reference_index", "benchmarks", "evaluation", "tests")  # for import cycles
FACES = {"reference_index", "reference_index.store", "reference_index.search", "reference_index.experimental",
         "reference_index.errors"}
MAX_LINES = 450
CHANNEL_NAMES = {"pdq", "orb", "clip"}
MAY_NAME_CHANNELS = ("auditor/channels/", "auditor/cli/", "auditor/demo.py", "auditor/config.py")


def modules(packages=PACKAGES) -> dict[str, Path]:
    out = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[0] == "tests":  # the tests import each other by module name (conftest puts tests/ on the path)
                parts = parts[1:]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules `name` imports, at module level or inside functions alike."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[: len(up) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def test_no_import_cycle_anywhere_in_the_repository():
    mods = modules(EVERYWHERE)
    graph = {name: imports_of(name, path, set(mods)) for name, path in mods.items()}
    # a package importing its own submodules is how Python packages work, not a cycle of design
    for name in graph:
        graph[name] = {t for t in graph[name] if not (t.startswith(name + ".") and (ROOT / name.replace(".", "/")).is_dir())}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_module_is_longer_than_a_reader_can_hold():
    long = {str(p.relative_to(ROOT)): n for p in modules().values() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_only_the_channels_know_which_channels_exist():
    found = []
    for path in modules().values():
        rel = str(path.relative_to(ROOT))
        if rel.startswith(MAY_NAME_CHANNELS):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in CHANNEL_NAMES:
                found.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert not found, "channel names outside auditor/channels/, the CLI, the demo and the config:\n" + "\n".join(found)


def test_reference_index_is_its_store_search_and_experiments_and_auditor_uses_their_faces():
    top = sorted(p.name for p in (ROOT / "reference_index").glob("*.py"))
    assert top == ["__init__.py", "errors.py"], top  # every other module lives in a subpackage
    assert {p.name for p in (ROOT / "reference_index").iterdir() if p.is_dir() and p.name != "__pycache__"} == {
        "store", "search", "experimental"}
    mods = modules()
    deep = []
    for name, path in mods.items():
        if not name.startswith("auditor"):
            continue
        for target in imports_of(name, path, set(mods)):
            if target.startswith("reference_index") and target not in FACES:
                deep.append(f"{name} imports {target}")
    assert not deep, "auditor reaches past reference_index's faces:\n" + "\n".join(deep)
    # the search structures know nothing of the store; the experiments are nobody's default
    store_from_search = [f"{n} imports {t}" for n, p in mods.items() if n.startswith("reference_index.search")
                         for t in imports_of(n, p, set(mods)) if t.startswith("reference_index.store")]
    assert not store_from_search, store_from_search


def test_benchmarks_and_the_evaluation_stand_apart():
    """They run with `python -m` from a checkout: no `sys.path` edits, nothing of tests/, and the
    library never imports them."""
    for package in ("benchmarks", "evaluation"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "sys.path" not in text, path
            tree = ast.parse(text)
            names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
            assert not {x for x in names if x.split(".")[0] in ("tests", "helpers", "conftest")}, path
    mods = modules()
    for name, path in mods.items():
        assert not {t for t in imports_of(name, path, set(modules(EVERYWHERE)))
                    if t.split(".")[0] in ("benchmarks", "evaluation")}, name
