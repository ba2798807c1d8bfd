"""The docs stay true to the code: settings documented, commands helped and in the README."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click

from citecache.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "crawler" / "settings.py"
CODE_DIRS = ("citecache", "crawler", "api", "wiki", "storage", "extraction")
# Read from the environment by the service and the settings module, not Scrapy settings;
# docs/api.md documents the first two, crawler/settings.py the last.
ENVIRONMENT_ONLY = {"CITECACHE_API_TOKEN", "CITECACHE_READ_TOKEN_REQUIRED", "CITECACHE_LOG_LEVEL"}


def documented_settings() -> dict[str, bool]:
    """Every CITECACHE_* assignment of crawler/settings.py -> whether a docstring follows."""
    body = ast.parse(SETTINGS.read_text("utf-8")).body
    found = {}
    for node, following in zip(body, [*body[1:], None], strict=True):
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        name = getattr(target, "id", "")
        if name.startswith("CITECACHE_"):
            found[name] = (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            )
    return found


def test_every_citecache_setting_has_a_docstring():
    found = documented_settings()
    assert found, "no CITECACHE_* settings found"
    assert [name for name, has_doc in found.items() if not has_doc] == []


def test_every_citecache_key_the_code_reads_is_in_the_settings_module():
    used = set()
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r"CITECACHE_[A-Z_]+[A-Z]", path.read_text("utf-8")))
    assert sorted(used - set(documented_settings()) - ENVIRONMENT_ONLY) == []


def commands(group: click.Group, prefix: str = "citecache") -> dict[str, click.Command]:
    found = {}
    for name, command in group.commands.items():
        found[f"{prefix} {name}"] = command
        if isinstance(command, click.Group):
            found.update(commands(command, f"{prefix} {name}"))
    return found


def test_every_command_has_help_and_the_readme_shows_it():
    readme = (ROOT / "README.md").read_text("utf-8")
    for path, command in commands(cli).items():
        assert (command.help or "").strip(), f"{path} has no help text"
        top = " ".join(path.split()[:2])
        assert top in readme, f"{top} is not in the README"


def test_make_install_puts_citecache_on_the_path(tmp_path):
    """The README's Quick start: after `make install`, `citecache` runs from PREFIX/bin
    without the venv activated."""
    import os
    import shutil
    import subprocess

    make = shutil.which("make")
    assert make, "make is needed by the Quick start"
    subprocess.run(
        [make, "-C", str(ROOT), "install", f"PREFIX={tmp_path}"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{tmp_path / 'bin'}:/usr/bin:/bin"
    done = subprocess.run(
        ["citecache", "--version"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "citecache" in done.stdout
