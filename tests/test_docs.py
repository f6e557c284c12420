"""Docs that cannot drift: every setting, CLI command and page is in the README."""

from __future__ import annotations

import re
from pathlib import Path

from demetra.cli import build_parser
from demetra.config import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented_with_its_default() -> None:
    for spec in SETTINGS:
        row = next((line for line in README.splitlines() if line.startswith(f"| `{spec.env}`")), None)
        assert row is not None, f"{spec.env} is missing from the README's configuration table"
        if spec.default not in ("", None) and spec.env != "OPENAI_API_KEY":
            assert f"`{spec.default:g}`" in row if isinstance(spec.default, float | int) \
                else f"`{spec.default}`" in row, f"{spec.env}: default {spec.default!r} not in {row!r}"


def test_every_cli_command_is_documented() -> None:
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in commands:
        assert re.search(rf"^\| `{name}[ `]", README, re.M), f"command {name} is not in the README"


def test_every_page_is_documented() -> None:
    from demetra.app.pages import PAGES

    assert PAGES, "the page registry is empty"
    for page in PAGES:
        assert (ROOT / page.path).is_file(), f"{page.path} is in the registry but not on disk"
        assert re.search(rf"^\| {page.title} \|", README, re.M), \
            f"page {page.title} is not in the README"
