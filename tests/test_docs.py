"""The documentation: its code examples run, and the site builds with warnings as errors.

- Every ``>>>`` example in the Markdown pages (``docs/*.md``) and in ``README.md``
  runs as a doctest, one session per page, on the bundled sample.
- ``sphinx-build -W`` builds the site into a temporary folder (a broken reference,
  a missing page or a docstring Sphinx cannot parse fails the build), and the
  generated parts are checked: every CLI command, every accessor method and the
  figures drawn by the examples are in the built pages.
"""

from __future__ import annotations

import doctest
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})[^\n]*\n(?P<body>.*?)^(?P=fence)\s*$", re.M | re.S)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def doctest_blocks(text: str) -> list[tuple[int, str]]:
    """(first line, body) of the fenced blocks of a Markdown text that are doctests.

    A block is a doctest if its first line starts with ``>>>``; the line number
    (0-based, of the block's first body line) makes failures point into the page.
    """
    found = []
    for m in FENCE.finditer(text):
        body = m.group("body")
        if body.lstrip().startswith(">>>"):
            found.append((text.count("\n", 0, m.start("body")), body))
    return found


def pages_with_doctests() -> list[Path]:
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    return [p for p in pages if doctest_blocks(p.read_text())]


def run_page(path: Path) -> tuple[int, int, str]:
    """Run the doctests of one page, in one namespace; (failures, examples, report)."""
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    namespace: dict = {"__name__": path.stem}
    lines: list[str] = []
    for lineno, body in doctest_blocks(path.read_text()):
        test = parser.get_doctest(body, namespace, path.name, str(path), lineno)
        runner.run(test, out=lines.append, clear_globs=False)
        namespace = test.globs  # DocTest copies its globals: carry them to the next block
    return runner.failures, runner.tries, "".join(lines)


def test_fence_parser_finds_doctests_only():
    text = "x\n```python\n>>> 1 + 1\n2\n```\n\n```bash\nmake docs\n```\n~~~\n>>> 3\n3\n~~~\n"
    assert doctest_blocks(text) == [(2, ">>> 1 + 1\n2\n"), (10, ">>> 3\n3\n")]


def test_a_wrong_doctest_fails(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "```python\n>>> import agea_xr\n>>> agea_xr.open_sample().sizes['ml']\n57\n```\n"
    )
    failures, tries, report = run_page(page)
    assert (failures, tries) == (1, 2)
    assert "Expected:\n    57\nGot:\n    58" in report


def test_my_pages_have_doctests():
    names = {p.name for p in pages_with_doctests()}
    assert {"getting-started.md", "data.md", "from-iblatlas.md", "scale.md"} <= names


@pytest.mark.parametrize("page", pages_with_doctests(), ids=lambda p: p.name)
def test_page_doctests(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything an example writes lands here
    failures, tries, report = run_page(page)
    assert tries > 0
    assert failures == 0, f"{failures} of {tries} examples of {page.name} failed:\n{report}"


# --- the site ------------------------------------------------------------------------
def sphinx_build(source: Path, out: Path) -> subprocess.CompletedProcess:
    """``sphinx-build -W -b html source out/html``, as ``make docs`` runs it."""
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    return subprocess.run(
        [*command, "-d", str(out / "doctrees"), str(source), str(out / "html")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    done = sphinx_build(DOCS, out)
    assert done.returncode == 0, f"sphinx-build -W failed:\n{done.stderr}\n{done.stdout}"
    return out / "html"


def test_a_broken_reference_fails_the_build(built_site, tmp_path):
    # A copy of the docs (figures already drawn by the real build) with one dead link.
    source = tmp_path / "root" / "docs"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build"))
    page = source / "data.md"
    page.write_text(page.read_text() + "\nSee [the missing page](no-such-page.md).\n")
    done = sphinx_build(source, tmp_path / "out")
    assert done.returncode != 0
    assert "no-such-page" in done.stderr


def page_text(html: Path, name: str) -> str:
    return (html / name).read_text()


def test_site_has_every_page(built_site):
    for md in DOCS.glob("*.md"):
        assert (built_site / f"{md.stem}.html").is_file(), f"{md.name} was not built"


def test_cli_reference_lists_every_command(built_site):
    from agea_xr.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    text = page_text(built_site, "cli.html")
    assert sub.choices, "the parser has no commands"
    for name, command in sub.choices.items():
        assert f'id="cli-{name}"' in text, f"agea-xr {name} is missing from the CLI page"
        for action in command._actions:
            for option in action.option_strings:
                assert option in text, f"agea-xr {name} {option} is missing"


def api_page_names() -> set[str]:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from agea_docs import curated_names
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    return set(curated_names(DOCS / "api.md"))


def test_api_page_lists_exactly_the_public_names():
    import agea_xr
    from agea_xr.accessor import AgeaDataArrayAccessor, AgeaDatasetAccessor

    expected = {f"agea_xr.{name}" for name in agea_xr.__all__ if not name.startswith("_")}
    for owner, cls in (("Dataset", AgeaDatasetAccessor), ("DataArray", AgeaDataArrayAccessor)):
        expected |= {f"xarray.{owner}.agea.{n}" for n in dir(cls) if not n.startswith("_")}
    listed = api_page_names()
    assert listed - expected == set(), "the API page lists names that are not public"
    assert expected - listed == set(), "public names missing from the API page"


def test_api_reference_pages_are_built(built_site):
    for name in api_page_names():
        assert (built_site / "api" / "generated" / f"{name}.html").is_file(), name
    text = page_text(built_site, "api.html")
    assert "agea_xr.open_dataset.html" in text
    assert "xarray.Dataset.agea.region_expression.html" in text


def test_figures_are_drawn_by_the_examples(built_site):
    index = page_text(built_site, "getting-started.html")
    assert "coronal_slices.png" in index
    image = built_site / "_images" / "coronal_slices.png"
    assert image.is_file()
    assert image.read_bytes().startswith(b"\x89PNG")
