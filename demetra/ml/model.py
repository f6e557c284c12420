"""The ROI forecaster: four gradient-boosted models in one object that is saved with joblib.

Everything is forecast relative to each campaign's reference ROI, ``roi_ref`` of
``features_at``: its quality within its channel (a year of revenue against the channel's ROI on
the same days, recent days weighing more) times its channel's ROI, moved along the channel's
diminishing returns to today's spend. Forecasts are made on a log scale around it,
z = log((ROI + c) / (ref + c)): a multiplicative world that trees fit far better than raw ROI.
Quantiles and the median are unchanged by that monotone transform, so mapping them back gives
ROI quantiles directly.

* point: the spend-weighted median (absolute-error loss, weights = trailing 28-day spend),
  applied as a share of its correction to the reference learnt on held-out weeks;
* P10 / P90: quantile losses, then conformalised (CQR) on the latest weeks of the training
  window held out, so that the 80 % interval covers about 80 % out of sample;
* prob_loss: a classifier of ROI < 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from demetra.ml.features import CATEGORICAL, FEATURES

MODEL_VERSION = "roi-hgb-6"   # 3: a blend (ml.adapt); 4: with the regression; 5: ordinary days;
#                               6: halfway to stacked weights
OFFSET = 0.01            # c above: keeps log finite for a week without revenue
LOW_Q, HIGH_Q = 0.1, 0.9
# Small, strongly regularised trees: most of a week's ROI beyond the reference is noise
# (benchmarks/RESULTS.md, "ROI forecasting"), and bigger models only fit that noise.
_HGB = dict(max_iter=60, learning_rate=0.05, max_leaf_nodes=7, l2_regularization=1.0,
            early_stopping=False, random_state=0)
_MIN_LEAF = 200
SHRINKS = (0.0, 0.25, 0.5, 0.75, 1.0)
_MAX_BINS = 255


def to_z(roi: np.ndarray, ref: np.ndarray) -> np.ndarray:
    # The offset on both sides: z = 0 is the reference itself.
    return np.log((roi + OFFSET) / (ref + OFFSET))


def from_z(z: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.maximum(np.exp(z) * (ref + OFFSET) - OFFSET, 0.0)


@dataclass
class RoiModel:
    """A trained forecaster and what it was trained on (version, features, window, metrics)."""

    horizon_days: int
    version: str = MODEL_VERSION
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    train_start: Any = None
    train_end: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)
    interval_adjust: float = 0.0
    point_shrink: float = 1.0
    bins: dict[str, np.ndarray] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    blend: Any = None        # demetra.ml.adapt.Blend: what serves, the trees among the candidates
    linear: Any = None       # demetra.ml.linear.LinearYield fitted on the same days

    def _params(self, n: int) -> dict[str, Any]:
        cats = [f in CATEGORICAL for f in self.features]
        return dict(categorical_features=cats, min_samples_leaf=max(20, min(_MIN_LEAF, n // 20)), **_HGB)

    def fit(self, X: pd.DataFrame, roi: np.ndarray, weight: np.ndarray,
            calibration: np.ndarray | None = None) -> RoiModel:
        """Fit on examples ``X`` (columns ``features``) with realised ``roi``; ``weight`` is
        the spend the point model weighs by; rows where ``calibration`` is True are held out
        from the quantile models and used to conformalise them."""
        X = X[self.features]
        ref = X["roi_ref"].to_numpy(float)
        z = to_z(roi, ref)
        self._learn_bins(X)
        with threadpool_limits(limits=1):
            self._fit(self._binned(X), ref, z, roi, weight, calibration)
        return self

    def _learn_bins(self, X: pd.DataFrame) -> None:
        """Quantile bin edges per continuous feature, unweighted. The trees bin their input
        anyway (at most 255 bins); given sample weights, scikit-learn finds those bins with a
        weighted percentile per bin and feature, which took 80 % of a training. Handing them
        features already binned to ≤ 255 values gives the same trees without that cost."""
        self.bins = {}
        for name in self.features:
            if name in CATEGORICAL:
                continue
            col = X[name].to_numpy(float)
            col = col[~np.isnan(col)]
            if len(col) and len(np.unique(col)) > _MAX_BINS:
                self.bins[name] = np.unique(np.percentile(col, np.linspace(0, 100, _MAX_BINS + 1)
                                                          [1:-1]))

    def _binned(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X[self.features]
        if not self.bins:
            return X
        out = X.copy()
        for name, edges in self.bins.items():
            col = out[name].to_numpy(float)
            codes = np.searchsorted(edges, col, side="left").astype(float)
            codes[np.isnan(col)] = np.nan
            out[name] = codes
        return out

    def _fit(self, X: pd.DataFrame, ref: np.ndarray, z: np.ndarray, roi: np.ndarray,
             weight: np.ndarray, calibration: np.ndarray | None) -> None:
        n = len(z)
        cal = np.zeros(len(z), bool) if calibration is None else np.asarray(calibration, bool)
        if cal.sum() < 50 or (~cal).sum() < 50:
            cal = np.zeros(len(z), bool)
        fit_rows = ~cal
        # How much of the trees' correction to the reference to keep: learnt on the held-out
        # newest weeks. Where the reference already holds what can be known (as in the demo
        # world), the trees only add noise and the share drops towards 0.
        self.point_shrink = 1.0
        if cal.any():
            probe = HistGradientBoostingRegressor(
                loss="absolute_error", **self._params(int(fit_rows.sum()))).fit(
                X[fit_rows], z[fit_rows], sample_weight=weight[fit_rows])
            pz = probe.predict(X[cal])
            errors = [float(np.sum(np.abs(from_z(a * pz, ref[cal]) - roi[cal]) * weight[cal]))
                      for a in SHRINKS]
            # The smallest share within 1 % of the best: a correction must earn its keep
            # clearly, not by the noise of a few held-out weeks.
            self.point_shrink = next(a for a, err in zip(SHRINKS, errors, strict=True)
                                     if err <= 1.01 * min(errors))
        self.models["point"] = HistGradientBoostingRegressor(
            loss="absolute_error", **self._params(n)).fit(X, z, sample_weight=weight)
        self.models["loss"] = HistGradientBoostingClassifier(**self._params(n)).fit(
            X, (roi < 1.0).astype(int))
        for name, q in (("low", LOW_Q), ("high", HIGH_Q)):
            self.models[name] = HistGradientBoostingRegressor(
                loss="quantile", quantile=q, **self._params(int(fit_rows.sum()))).fit(
                X[fit_rows], z[fit_rows])
        self.interval_adjust = 0.0
        if cal.any():
            lo = self.models["low"].predict(X[cal])
            hi = self.models["high"].predict(X[cal])
            score = np.maximum(lo - z[cal], z[cal] - hi)
            n = len(score)
            level = min(1.0, np.ceil((n + 1) * (HIGH_Q - LOW_Q)) / n)
            self.interval_adjust = float(np.quantile(score, level))

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """Point, P10, P90 of ROI over the horizon and P(ROI < 1), one row per row of ``X``."""
        X = X[self.features]
        ref = X["roi_ref"].to_numpy(float)
        with threadpool_limits(limits=1):
            return self._predict(self._binned(X), ref)

    def point_z(self, X: pd.DataFrame) -> np.ndarray:
        """The point model's z (its share of the correction applied), for unbinned ``X``."""
        return self._point_z(self._binned(X))

    def _point_z(self, X: pd.DataFrame) -> np.ndarray:
        return self.point_shrink * self.models["point"].predict(X)

    def _predict(self, X: pd.DataFrame, ref: np.ndarray) -> pd.DataFrame:
        z = self._point_z(X)
        zlo = self.models["low"].predict(X) - self.interval_adjust
        zhi = self.models["high"].predict(X) + self.interval_adjust
        point = from_z(z, ref)
        low = np.minimum(from_z(np.minimum(zlo, zhi), ref), point)
        high = np.maximum(from_z(np.maximum(zlo, zhi), ref), point)
        prob = np.clip(self.models["loss"].predict_proba(X)[:, 1], 0.0, 1.0)
        return pd.DataFrame({"predicted_roi": point, "predicted_roi_low": low,
                             "predicted_roi_high": high, "prob_loss": prob}, index=X.index)
