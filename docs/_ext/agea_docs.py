"""Sphinx extension of the agea-xr docs: pages that are generated so that they never rot.

Three jobs, done at build time:

- **API stubs** (``config-inited``): the API page (``api.md``) is written by hand,
  grouped by task; autosummary writes one stub per listed name, and stubs of names
  no longer listed are removed. A test checks that the page lists every public name
  and accessor method, so the reference cannot fall behind the code.
- **Figures** (``builder-inited``): every ``examples/*.py`` that declares a module
  constant ``FIGURES = ("name.png", ...)`` is run as ``python script --out
  docs/generated/figures`` whenever one of its figures is missing or older than the
  script or the package source. Figures in the pages are therefore drawn by the
  examples from the bundled real sample, and never committed.
- **CLI reference** (directive ``agea-cli``): renders the parser of
  :func:`agea_xr.cli.build_parser`, one section per sub-command, so every command
  registered in :data:`agea_xr.cli.COMMAND_MODULES` is documented automatically.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Where the API list pages are written, relative to the docs source folder.
API_DIR = Path("api") / "generated"
#: Where the example figures are written, relative to the docs source folder.
FIGURE_DIR = Path("generated") / "figures"


# --- API stubs ----------------------------------------------------------------------
#: An entry of an autosummary block of the curated API page (``docs/api.md``).
_ENTRY = re.compile(r"^   (?P<name>[A-Za-z_][\w.]*)\s*$", re.M)
_MODULE = re.compile(r"^\.\. currentmodule:: (?P<module>[\w.]+)\s*$", re.M)


def curated_names(page: Path) -> list[str]:
    """Full names listed in the autosummary blocks of the hand-written API page."""
    names = []
    module = ""
    for line in page.read_text().splitlines():
        m = _MODULE.match(line)
        if m:
            module = m.group("module")
            continue
        m = _ENTRY.match(line)
        if m and module and not line.lstrip().startswith(":"):
            names.append(f"{module}.{m.group('name')}")
    return names


def remove_stale_stubs(app, config) -> None:
    """``config-inited``: remove stub pages of names no longer on the API page.

    autosummary writes one stub per listed name into ``api/generated``; a stub left by
    a name that was removed would be a page outside any toctree (an error with -W).
    Current stubs are left for autosummary, which rewrites them only when their content
    changes (safe for concurrent builds).
    """
    folder = Path(app.srcdir) / API_DIR
    if not folder.is_dir():
        return
    keep = {f"{name}.rst" for name in curated_names(Path(app.srcdir) / "api.md")}
    for stale in folder.glob("*.rst"):
        if stale.name not in keep:
            stale.unlink(missing_ok=True)


# --- figures --------------------------------------------------------------------------
def declared_figures(script: Path) -> tuple[str, ...]:
    """The ``FIGURES`` tuple of an example script (parsed, not imported)."""
    tree = ast.parse(script.read_text(), filename=str(script))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "FIGURES" for t in node.targets
        ):
            return tuple(ast.literal_eval(node.value))
    return ()


def _newest_source(root: Path) -> float:
    package = root / "agea_xr"
    files = [*package.rglob("*.py"), *(package / "data").rglob("*")]
    return max((p.stat().st_mtime for p in files if p.is_file()), default=0.0)


def make_figures(app) -> None:
    """``builder-inited``: run the figure-producing examples whose figures are stale."""
    root = Path(app.srcdir).parent
    out = Path(app.srcdir) / FIGURE_DIR
    out.mkdir(parents=True, exist_ok=True)
    newest_source = _newest_source(root)
    for script in sorted((root / "examples").glob("*.py")):
        figures = declared_figures(script)
        if not figures:
            continue
        newest = max(newest_source, script.stat().st_mtime)
        targets = [out / name for name in figures]
        if all(t.is_file() and t.stat().st_mtime >= newest for t in targets):
            continue
        logger.info(f"running example {script.name} for {', '.join(figures)}")
        # Draw into a private folder, then rename into place: a build running at the
        # same time never sees a half-written PNG.
        with tempfile.TemporaryDirectory(dir=out) as scratch:
            done = subprocess.run(
                [sys.executable, str(script), "--out", scratch],
                capture_output=True,
                text=True,
                cwd=root,
            )
            if done.returncode:
                raise RuntimeError(
                    f"Example {script.name} failed (exit {done.returncode}) while drawing "
                    f"the docs figures:\n{done.stderr}"
                )
            missing = [name for name in figures if not (Path(scratch) / name).is_file()]
            if missing:
                raise RuntimeError(
                    f"Example {script.name} declares FIGURES {figures} but did not write "
                    f"{missing}: write each declared figure into the --out folder."
                )
            for name in figures:
                os.replace(Path(scratch) / name, out / name)


# --- CLI reference --------------------------------------------------------------------
def _help_text(action: argparse.Action, prog: str) -> str:
    text = action.help or ""
    if "%" in text:
        params = {**vars(action), "prog": prog}
        if params.get("choices") is not None:
            params["choices"] = ", ".join(map(str, params["choices"]))
        text = text % params
    default = action.default
    shows_default = "default" in text.lower()
    if (
        not shows_default
        and action.option_strings
        and default not in (None, False, argparse.SUPPRESS)
        and action.nargs != 0
    ):
        text = f"{text} (default: {default})" if text else f"default: {default}"
    return text


def _invocation(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar or action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    if action.metavar is not None:
        metavar = action.metavar if isinstance(action.metavar, str) else " ".join(action.metavar)
    elif action.choices is not None:
        metavar = "{" + ",".join(map(str, action.choices)) + "}"
    else:
        metavar = action.dest.upper()
    if action.nargs in ("+", "*"):
        metavar = f"{metavar} [{metavar} ...]"
    elif isinstance(action.nargs, int) and action.nargs > 1:
        metavar = " ".join([metavar] * action.nargs)
    return ", ".join(f"{opt} {metavar}" for opt in action.option_strings)


def _arguments(parser: argparse.ArgumentParser) -> nodes.definition_list:
    items = nodes.definition_list()
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        item = nodes.definition_list_item()
        term = nodes.term()
        term += nodes.literal(text=_invocation(action))
        if not action.option_strings and action.nargs == "?":
            term += nodes.Text(" (optional)")
        item += term
        definition = nodes.definition()
        definition += nodes.paragraph(text=_help_text(action, parser.prog))
        item += definition
        items += item
    return items


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices.items())
    return []


class CliDirective(Directive):
    """``agea-cli``: the reference of every ``agea-xr`` sub-command, from the live parser.

    The single argument is the dotted path of a function returning the parser
    (``agea_xr.cli.build_parser``).
    """

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        module_name, _, func_name = self.arguments[0].rpartition(".")
        parser = getattr(importlib.import_module(module_name), func_name)()
        out: list[nodes.Node] = [
            nodes.paragraph(text=parser.description or ""),
            nodes.literal_block(text=parser.format_usage().strip()),
            _arguments(parser),
        ]
        for name, sub in _subcommands(parser):
            section = nodes.section(ids=[f"cli-{name}"], names=[f"agea-xr {name}"])
            section += nodes.title(text=f"agea-xr {name}")
            if sub.description:
                section += nodes.paragraph(text=sub.description)
            section += nodes.literal_block(text=sub.format_usage().strip())
            section += _arguments(sub)
            self.state.document.note_implicit_target(section)
            out.append(section)
        return out


def setup(app):
    """Register the hooks and the directive."""
    app.connect("config-inited", remove_stale_stubs)
    app.connect("builder-inited", make_figures)
    app.add_directive("agea-cli", CliDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
