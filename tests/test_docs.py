"""The docs stay true: ``docs/ops.md`` is what ``scripts/gen_ops_doc.py`` generates from the op
table, and every Python code block in the docs (and the README) runs under
``import ember as torch``. A ``text`` block right after a Python block is that block's
expected output, compared exactly."""

import contextlib
import importlib.util
import io
import re
import sys
from pathlib import Path

import pytest

import ember

ROOT = Path(__file__).resolve().parent.parent
# internals.md is the contributors' guide: its snippets show op-module code (relative imports)
# meant to be read in place, not run.
DOCS = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "internals.md")
PAGES = [*DOCS, ROOT / "README.md"]
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_ops_doc",
                                                  ROOT / "scripts" / "gen_ops_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def blocks(page: Path) -> list[tuple[str, str | None, int]]:
    """(code, expected output or None, line number) for each Python block of ``page``."""
    text = page.read_text(encoding="utf-8")
    found = list(_BLOCK.finditer(text))
    result = []
    for i, m in enumerate(found):
        if m.group(1) != "python":
            continue
        expected = None
        nxt = found[i + 1] if i + 1 < len(found) else None
        if nxt is not None and nxt.group(1) == "text" and not text[m.end():nxt.start()].strip():
            expected = nxt.group(2)
        result.append((m.group(2), expected, text.count("\n", 0, m.start()) + 1))
    return result


def test_ops_md_is_up_to_date():
    gen = load_generator()
    current = (ROOT / "docs" / "ops.md").read_text(encoding="utf-8")
    assert current == gen.render(), "docs/ops.md is stale: run python scripts/gen_ops_doc.py"


def test_ops_md_lists_every_op_once(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from tests.op_db import OP_DB
    text = (ROOT / "docs" / "ops.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([^`]+)` \| (yes \+ gradcheck|yes|no) \| (\d+) \|", text, re.M)
    assert sorted(name for name, _, _ in listed) == sorted(op.name for op in OP_DB)
    by_name = {op.name: op for op in OP_DB}
    for name, grad, samples in listed:
        op = by_name[name]
        assert int(samples) == len(op.samples)
        assert (grad != "no") == (op.grad and not op.int_inputs)


def test_generator_check_mode(tmp_path, monkeypatch):
    gen = load_generator()
    stale = tmp_path / "ops.md"
    stale.write_text("old\n")
    monkeypatch.setattr(gen, "OPS_MD", stale)
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0
    assert stale.read_text() == gen.render()
    assert gen.main(["--check"]) == 0


def test_every_page_has_runnable_examples():
    for name in ("index.md", "migrating.md", "autograd.md", "extending.md"):
        assert blocks(ROOT / "docs" / name), name


def test_relative_links_resolve():
    for page in PAGES:
        # The proposed README sections link as the README will, from the repository root.
        base = ROOT if page.name == "readme_sections.md" else page.parent
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (base / target).exists(), (page.name, target)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_run_under_ember_as_torch(page, tmp_path, monkeypatch):
    # ``import torch`` inside a block gets ember too.
    for name, module in (("torch", ember), ("torch.nn", ember.nn),
                         ("torch.nn.functional", ember.nn.functional),
                         ("torch.optim", ember.optim), ("torch.utils", ember.utils),
                         ("torch.utils.data", ember.utils.data)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.chdir(tmp_path)
    ember.manual_seed(0)
    for code, expected, line in blocks(page):
        out = io.StringIO()
        scope = {"__name__": f"docs_{page.stem}"}
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(code, f"{page.name}:{line}", "exec"), scope)
            except Exception as exc:
                raise AssertionError(f"{page.name}, block at line {line} failed: {exc!r}") \
                    from exc
        if expected is not None:
            assert out.getvalue() == expected, f"{page.name}, block at line {line}"
