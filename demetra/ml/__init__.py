"""ROI forecasting: features, training with a rolling-origin backtest, prediction and risk.

``train(engine)`` backtests and fits the model and records a ``model_runs`` row;
``predict(engine)`` writes a forecast for every campaign that spent in the last 7 days.
Accounts too small for the pooled tree model get per-campaign forecasts (``ml.small``);
campaigns without revenue are forecast on CPA, never given an ROI of 0.
"""

from demetra.errors import NotEnoughData, RetrainNeeded
from demetra.ml.features import FEATURES, build_features
from demetra.ml.predict import PredictResult, latest_predictions, predict
from demetra.ml.risk import RISK_LEVELS, risk_level
from demetra.ml.runs import latest_model_run, predictions_are_stale
from demetra.ml.settings import ModelSettings, load_model_settings, save_model_settings
from demetra.ml.train import TrainResult, load_latest_model, train

__all__ = ["FEATURES", "RISK_LEVELS", "ModelSettings", "NotEnoughData", "PredictResult",
           "RetrainNeeded", "TrainResult", "build_features", "latest_predictions",
           "latest_model_run", "load_latest_model", "load_model_settings", "predict",
           "predictions_are_stale", "risk_level", "save_model_settings", "train"]
