"""The ROI model's refusals: each says what is wrong and what to do, in one line."""

from __future__ import annotations


class NotEnoughData(ValueError):
    """The database holds too little history to train (or predict); the message says what is needed."""


class RetrainNeeded(RuntimeError):
    """No usable trained model: none yet, its file is missing or unreadable, or the settings changed."""
