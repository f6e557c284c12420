"""The ROI model's refusals (declared in ``demetra.errors``, under ``DemetraError``)."""

from demetra.errors import NotEnoughData, RetrainNeeded

__all__ = ["NotEnoughData", "RetrainNeeded"]
