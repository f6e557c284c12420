"""Every error a user may see, under one root.

``DemetraError`` is a problem the user can fix: bad input, a setting out of range, a database
that cannot be reached, a model to train first. Its message says what is wrong and what to do,
in one line. The command line and the pages catch ``DemetraError`` and show its message;
anything else is a bug and surfaces as one (a traceback in the CLI, Streamlit's exception box
on a page).

The built-in base each error had before the root existed is kept beside it, so code that
caught ``ValueError`` around a setting still works.
"""

from __future__ import annotations


class DemetraError(Exception):
    """A refusal the user can act on; ``str()`` is the message, written to be shown."""

    #: The command line's exit status: 2 for input that cannot be used as given (a setting, a
    #: file, an argument), 1 for a state to change first (train a model, empty the database).
    exit_code = 1

    def sentence(self) -> str:
        """The message as a sentence: first letter capitalised, ending with a full stop."""
        return as_sentence(str(self))


def as_sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


class SettingsError(DemetraError, ValueError):
    """A setting has a value that cannot be used; the message says which and why."""

    exit_code = 2


class DatabaseUnavailable(DemetraError, RuntimeError):
    """The database cannot be reached or used; the message names it and says what to check."""

    exit_code = 2


class BadInput(DemetraError, ValueError):
    """An argument or filter cannot be used (an end before the start, an unknown sort column);
    the message names it and what is allowed."""

    exit_code = 2


class StorageError(DemetraError, RuntimeError):
    """A file Demetra keeps (a trained model) cannot be written or read where it is set to."""


class SeedRefused(DemetraError, RuntimeError):
    """Seeding would mix demo rows into existing data."""


class ImportFileError(DemetraError, ValueError):
    """The file cannot be imported as it is; the message says what is wrong and what to do."""

    exit_code = 2


class NumberStyle(ImportFileError):
    """A value that proves the file writes numbers in the other style than the one being read
    ("12,50" read as English): the importer reads the file again in that style."""

    def __init__(self, row: object, column: str, value: str, decimal_comma: bool) -> None:
        self.row, self.column, self.value, self.decimal_comma = row, column, value, decimal_comma
        style = ("a decimal comma (1.234,56)" if decimal_comma
                 else "a decimal point (1,234.56)")
        super().__init__(f"row {row}, column “{column}”: '{value}' is written with {style}")

    def where(self) -> str:
        return f"row {self.row}, “{self.column}”: '{self.value}'"


class NotEnoughData(DemetraError, ValueError):
    """Too little history to train (or predict); the message says what is needed."""

    exit_code = 2


class RetrainNeeded(DemetraError, RuntimeError):
    """No usable trained model: none yet, its file is missing or unreadable, or the settings
    changed."""


class LLMFailure(DemetraError):
    """The endpoint's answer cannot be used; the message says why (and never holds a secret)."""


__all__ = ["BadInput", "DatabaseUnavailable", "DemetraError", "ImportFileError", "LLMFailure",
           "NotEnoughData", "RetrainNeeded", "SeedRefused", "SettingsError", "StorageError",
           "as_sentence"]
