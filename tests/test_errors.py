"""One exception root: every error class Demetra defines is a ``DemetraError``, so the command
line and the pages catch that one class and a bug (any other exception) surfaces as a bug."""

from __future__ import annotations

import ast
from pathlib import Path

from demetra import errors

PACKAGE = Path(__file__).resolve().parents[1] / "demetra"


def test_every_exception_class_lives_under_the_root() -> None:
    declared = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    getattr(b, "id", getattr(b, "attr", "")).endswith(("Error", "Exception"))
                    for b in node.bases):
                declared.append((path.relative_to(PACKAGE).as_posix(), node.name))
    assert declared, "the walk found no exception classes at all"
    outside = [(where, name) for where, name in declared
               if where != "errors.py" or not issubclass(getattr(errors, name), errors.DemetraError)]
    assert outside == [], f"declare these in demetra/errors.py under DemetraError: {outside}"


def test_refusals_read_as_sentences_and_carry_exit_codes() -> None:
    assert errors.SeedRefused("the database holds 3 rows").sentence() == "The database holds 3 rows."
    assert errors.as_sentence("done!") == "Done!"
    assert errors.SettingsError("x").exit_code == 2 and errors.RetrainNeeded("x").exit_code == 1
    assert isinstance(errors.NotEnoughData("x"), ValueError)  # callers that caught the built-in
