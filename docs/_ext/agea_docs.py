"""Sphinx extension of the agea-xr docs: pages that are generated so that they never rot.

Three jobs, each read from the code at build time:

- **API lists** (``config-inited``): ``api/generated/functions.rst`` (every public
  name of :data:`agea_xr.__all__`), ``api/generated/accessor.rst`` (every public
  method and property of the ``.agea`` accessor, as ``Dataset.agea.*`` and
  ``DataArray.agea.*``) and ``api/generated/modules.rst`` (one page per public
  module). autosummary then writes one stub per entry. A function, accessor method
  or module added to the package appears in the reference without touching the docs.
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
import inspect
import os
import pkgutil
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


# --- API lists ----------------------------------------------------------------------
def public_functions() -> list[str]:
    """Public callables (functions and classes) of the top-level package."""
    import agea_xr

    names = []
    for name in agea_xr.__all__:
        obj = getattr(agea_xr, name)
        if name.startswith("_") or inspect.ismodule(obj) or not callable(obj):
            continue
        names.append(name)
    return names


def accessor_members(cls: type) -> tuple[list[str], list[str]]:
    """(methods, properties) of an accessor class, public ones only, in definition order."""
    methods, properties = [], []
    seen = set()
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            if isinstance(value, property):
                properties.append(name)
            elif callable(value):
                methods.append(name)
    return methods, properties


def public_modules() -> list[str]:
    """Every public module of the package, except the CLI's per-command modules.

    The commands have their own reference (the CLI page); ``agea_xr.cli`` itself is kept.
    """
    import agea_xr

    found = ["agea_xr"]
    for info in pkgutil.walk_packages(agea_xr.__path__, prefix="agea_xr."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts):
            continue
        if parts[:2] == ["agea_xr", "cli"] and len(parts) > 2:
            continue
        found.append(info.name)
    return sorted(found)


def _autosummary(names: list[str], template: str | None = None) -> list[str]:
    lines = [".. autosummary::", "   :toctree: ."]
    if template:
        lines.append(f"   :template: {template}")
    return [*lines, "", *(f"   {name}" for name in names), ""]


def _title(text: str, char: str = "=") -> list[str]:
    return [text, char * len(text), ""]


def stub_names() -> list[str]:
    """Full names autosummary writes one stub page for, from the three API lists."""
    import agea_xr.accessor as accessor

    names = [f"agea_xr.{name}" for name in public_functions()]
    for owner, cls in (
        ("Dataset", accessor.AgeaDatasetAccessor),
        ("DataArray", accessor.AgeaDataArrayAccessor),
    ):
        methods, properties = accessor_members(cls)
        names += [f"xarray.{owner}.agea.{m}" for m in (*properties, *methods)]
    return names + public_modules()


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def api_pages() -> dict[str, str]:
    """File name -> reStructuredText of the generated API list pages."""
    import agea_xr.accessor as accessor

    functions = [
        *_title("Top-level functions"),
        "Everything importable as ``agea_xr.<name>``.",
        "",
        ".. currentmodule:: agea_xr",
        "",
        *_autosummary(public_functions()),
    ]

    acc = [
        *_title("The .agea accessor"),
        "Importing ``agea_xr`` registers ``.agea`` on every xarray Dataset and DataArray.",
        "Each method is a thin call into a module function (see the module pages).",
        "",
        ".. currentmodule:: xarray",
        "",
    ]
    for owner, cls in (
        ("Dataset", accessor.AgeaDatasetAccessor),
        ("DataArray", accessor.AgeaDataArrayAccessor),
    ):
        methods, properties = accessor_members(cls)
        acc += _title(f"{owner}.agea", "-")
        if not methods and not properties:
            acc += ["No methods yet.", ""]
        if properties:
            acc += _autosummary(
                [f"{owner}.agea.{p}" for p in properties], "autosummary/accessor_attribute.rst"
            )
        if methods:
            acc += _autosummary(
                [f"{owner}.agea.{m}" for m in methods], "autosummary/accessor_method.rst"
            )

    modules = [
        *_title("Modules"),
        "One module per step of the data flow: files, reader, backend, Dataset, accessor,",
        "then analyses, plots and export. Each page documents the module's public names.",
        "",
        *_autosummary(public_modules(), "agea_module.rst"),
    ]
    return {
        "functions.rst": "\n".join(functions),
        "accessor.rst": "\n".join(acc),
        "modules.rst": "\n".join(modules),
    }


def write_api_pages(app, config) -> None:
    """``config-inited``: (re)write the API list pages if their content changed."""
    folder = Path(app.srcdir) / API_DIR
    folder.mkdir(parents=True, exist_ok=True)
    pages = api_pages()
    # Stubs of names that no longer exist would be pages outside any toctree (a warning,
    # so an error with -W): remove them. Current stubs are left for autosummary, which
    # rewrites them only when their content changes (safe for concurrent builds).
    keep = set(pages) | {f"{name}.rst" for name in stub_names()}
    for stale in folder.glob("*.rst"):
        if stale.name not in keep:
            stale.unlink(missing_ok=True)
    for name, text in pages.items():
        path = folder / name
        if not path.is_file() or path.read_text() != text:
            _replace(path, text.encode())


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
    app.connect("config-inited", write_api_pages)
    app.connect("builder-inited", make_figures)
    app.add_directive("agea-cli", CliDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
