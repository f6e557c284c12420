"""Predictions: train the ROI model (backtest vs. baselines), forecast every campaign, the risky
ones first, and one campaign's history with its forecast band.

A campaign is forecast on what it tracks: ROI with revenue, CPA (cost per result) without, CPC
(cost per click) when it tracks neither; each row says which method served it and why, and
campaigns that cannot be forecast are listed with the reason (never an ROI of 0 for revenue
that is not tracked)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from demetra import charts, ml, queries
from demetra import format as fmt
from demetra.app import cache
from demetra.app.filters import active_filters, require_filters
from demetra.app.runtime import get_engine, progress, rerun_with, settings
from demetra.app.widgets import page_header, rows_height, settings_form
from demetra.channels import channel_label
from demetra.errors import DemetraError, NotEnoughData, RetrainNeeded
from demetra.ml import settings as ml_settings

RISK_BADGES = {"high": ":red-badge[High]", "medium": ":orange-badge[Medium]",
               "low": ":green-badge[Low]"}
RISK_WORDS = {"high": "High", "medium": "Medium", "low": "Low"}
FORECASTER_LABELS = {"model": "Demetra model", "trailing_28d_roi": "Trailing 28-day ROI",
                     "trailing_7d_roi": "Trailing 7-day ROI",
                     "channel_28d_roi": "Channel 28-day ROI",
                     "trailing_28d_cpa": "Trailing 28-day CPA",
                     "trailing_28d_cpc": "Trailing 28-day CPC"}
METHOD_WORDS = {"tree": "Pooled model", "adaptive": "Models + simple, by backtest",
                "shrinkage": "Shrinkage", "trailing_28d": "Trailing 28 days",
                "trailing_7d": "Trailing 7 days", "blend_7_56": "Trailing 7 + 56 days",
                "ewm_14d": "Weighted, 14-day half-life",
                "ewm_28d": "Weighted, 28-day half-life", "combined": "Combination",
                "linear": "Account's regression", "simple": "Simple forecasts"}
CPC_WORDS = "CPC (neither revenue nor results tracked)"
KEY_TRAINING = "prd_training"
CHART = {"width": "stretch", "config": {"displayModeBar": False}}
PREDICTION_COLUMNS = {
    "Campaign": st.column_config.TextColumn("Campaign", width="medium"),
    "Forecast ROI": st.column_config.NumberColumn(
        "Forecast ROI", format="%.2f×", help="Point forecast of ROI over the horizon"),
    "P10": st.column_config.NumberColumn("P10", format="%.2f×",
                                         help="ROI is below this with 10% probability"),
    "P90": st.column_config.NumberColumn("P90", format="%.2f×",
                                         help="ROI is below this with 90% probability"),
    "P(loss)": st.column_config.ProgressColumn(
        "P(loss)", format="percent", min_value=0, max_value=1,
        help="Probability that ROI over the horizon is below 1.00× (spend not recovered)"),
    "Forecast CPA": st.column_config.NumberColumn(
        "Forecast CPA", format="%.2f",
        help="Campaigns without revenue: cost per result over the horizon"),
    "CPA P10": st.column_config.NumberColumn("CPA P10", format="%.2f",
                                             help="CPA is below this with 10% probability"),
    "CPA P90": st.column_config.NumberColumn("CPA P90", format="%.2f",
                                             help="CPA is below this with 90% probability"),
    "Target CPA": st.column_config.NumberColumn(
        "Target CPA", format="%.2f",
        help="The channel's target CPA (Model settings), or the campaign's own trailing 28-day CPA"),
    "P(CPA > target)": st.column_config.ProgressColumn(
        "P(CPA > target)", format="percent", min_value=0, max_value=1,
        help="Probability that CPA over the horizon is above the target: the risk of a "
             "campaign without revenue"),
    "Forecast CPC": st.column_config.NumberColumn(
        "Forecast CPC", format="%.2f",
        help=f"{CPC_WORDS}: cost per click over the horizon"),
    "CPC P10": st.column_config.NumberColumn("CPC P10", format="%.2f",
                                             help="CPC is below this with 10% probability"),
    "CPC P90": st.column_config.NumberColumn("CPC P90", format="%.2f",
                                             help="CPC is below this with 90% probability"),
    "Target CPC": st.column_config.NumberColumn(
        "Target CPC", format="%.2f", help="The campaign's own trailing 28-day CPC"),
    "P(CPC > target)": st.column_config.ProgressColumn(
        "P(CPC > target)", format="percent", min_value=0, max_value=1,
        help="Probability that CPC over the horizon is above the target: the risk of a "
             "campaign tracking neither revenue nor results"),
    "Method": st.column_config.TextColumn("Method", width="small",
                                          help="Which forecaster served this campaign"),
    "Why": st.column_config.TextColumn("Why", width="medium",
                                       help="Why that forecaster, and where its interval is from"),
    # Coloured labels without a pandas Styler (which cost 0.3 s at 2,000 rows): a read-only
    # multiselect column of one option per cell.
    "Risk": st.column_config.MultiselectColumn("Risk", width="small",
                                               options=["High", "Medium", "Low"],
                                               color=["#B91C1C", "#B45309", "#15803D"]),
}
BACKTEST_COLUMNS = {
    "Spend-weighted MAE": st.column_config.NumberColumn(
        format="%.3f", help="Mean absolute ROI error, weighted by spend (lower is better)"),
    "MAE": st.column_config.NumberColumn(format="%.3f", help="Mean absolute ROI error"),
    "P10–P90 coverage": st.column_config.NumberColumn(
        format="%.1f%%", help="Share of outcomes inside the P10–P90 interval (80% is ideal)"),
    "Brier": st.column_config.NumberColumn(
        format="%.3f", help="Error of P(loss) against what happened (lower is better)"),
    "High-risk precision": st.column_config.NumberColumn(
        format="%.1f%%", help="Of the campaigns called high risk, the share that lost money"),
    "High-risk recall": st.column_config.NumberColumn(
        format="%.1f%%", help="Of the campaigns that lost money, the share called high risk"),
}


@st.cache_resource
def training_lock() -> threading.Lock:
    # One per process: two sessions (or two clicks) must never train at the same time.
    return threading.Lock()


def training_running() -> bool:
    return training_lock().locked()


# --------------------------------------------------------------------------------------------
# Tables


def predictions_view(engine: sa.Engine, channels: tuple[str, ...] = (),
                     risks: tuple[str, ...] = ()) -> pd.DataFrame:
    """The newest forecast of each campaign with its name and channel, riskiest first,
    narrowed to ``channels`` and ``risks`` (empty: all)."""
    df = ml.latest_predictions(engine)
    if df.empty:
        return df.assign(campaign_name=pd.Series(dtype=object), channel=pd.Series(dtype=object))
    found = queries.campaign_names(engine, df["campaign_id"].astype(str).unique())
    names = pd.DataFrame([(i, n, c) for i, (n, c) in found.items()],
                         columns=["campaign_id", "campaign_name", "channel"])
    df = df.merge(names, on="campaign_id", how="left")
    if channels:
        df = df[df["channel"].isin(channels)]
    if risks:
        df = df[df["risk_level"].isin(risks)]
    return df.reset_index(drop=True)


def _names(df: pd.DataFrame) -> list[str]:
    """Each row's campaign name, or its ID where it has none."""
    return [n or c for n, c in zip(df["campaign_name"], df["campaign_id"], strict=True)]


def risk_table(df: pd.DataFrame) -> pd.DataFrame:
    """The forecast table with the risk level as a coloured label (``PREDICTION_COLUMNS``; no
    emoji: not every browser has an emoji font). Each row fills the columns of its metric
    only (ROI, CPA or CPC, the last two sharing the stored cost-per-outcome columns); the CPA
    and CPC columns only appear when some campaign is forecast on them."""
    table = pd.DataFrame({
        "Campaign": _names(df),
        "Channel": df["channel"].map(lambda c: channel_label(c) if isinstance(c, str) else fmt.DASH),
        "Forecast ROI": df["predicted_roi"].astype(float),
        "P10": df["predicted_roi_low"].astype(float),
        "P90": df["predicted_roi_high"].astype(float),
        "P(loss)": df["prob_loss"].astype(float),
    })
    for metric, word in (("cpa", "CPA"), ("cpc", "CPC")):
        mine = (df["metric"] == metric).to_numpy()
        if not mine.any():
            continue
        names = {"predicted_cpa": f"Forecast {word}", "predicted_cpa_low": f"{word} P10",
                 "predicted_cpa_high": f"{word} P90", "cpa_target": f"Target {word}",
                 "prob_cpa_above": f"P({word} > target)"}
        table = table.assign(**{name: df[column].astype(float).where(mine).to_numpy()
                                for column, name in names.items()})
    return table.assign(
        Risk=[[RISK_WORDS.get(r, str(r))] for r in df["risk_level"]],
        Method=[METHOD_WORDS.get(m, m or "Pooled model") for m in df["method"]],
        Why=[r or fmt.DASH for r in df["method_reason"]],
        ID=df["campaign_id"].to_numpy())


def not_forecast_view(engine: sa.Engine, channels: tuple[str, ...] = ()) -> pd.DataFrame:
    """Campaigns that spent in the last 7 days but could not be forecast, with the reason."""
    df = ml.latest_predictions(engine, not_forecast=True)
    if df.empty:
        return pd.DataFrame(columns=["Campaign", "Channel", "Why not", "ID"])
    found = queries.campaign_names(engine, df["campaign_id"].astype(str).unique())
    df = df.assign(campaign_name=[found.get(c, ("", ""))[0] for c in df["campaign_id"]],
                   channel=[found.get(c, ("", None))[1] for c in df["campaign_id"]])
    if channels:
        df = df[df["channel"].isin(channels)]
    return pd.DataFrame({
        "Campaign": _names(df),
        "Channel": df["channel"].map(lambda c: channel_label(c) if isinstance(c, str) else fmt.DASH),
        "Why not": df["method_reason"], "ID": df["campaign_id"]}).reset_index(drop=True)


def backtest_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """The model's backtest metrics beside the baselines', one row per forecaster."""
    rows = {"model": metrics.get("model", {}), **metrics.get("baselines", {})}

    def pct(value: Any) -> float | None:  # shown as percentage points, one decimal
        return None if fmt.is_missing(value) else float(value) * 100

    return pd.DataFrame([{
        "Forecaster": FORECASTER_LABELS.get(name, name),
        "Spend-weighted MAE": m.get("wmae"), "MAE": m.get("mae"),
        "P10–P90 coverage": pct(m.get("coverage")), "Brier": m.get("brier"),
        "High-risk precision": pct(m.get("high_precision")),
        "High-risk recall": pct(m.get("high_recall")),
    } for name, m in rows.items()])


def show_model_run(run: Mapping[str, Any]) -> None:
    """A training's backtest against the baselines, feature importance, window and time."""
    metrics = run.get("metrics") or {}
    if metrics.get("method") == "small":
        st.markdown(":blue-badge[Per-campaign forecasts] Not the pooled tree model: "
                    f"{metrics.get('method_reason') or 'too little pooled data'}. Each campaign "
                    "is forecast by its trailing 28 days weighed against an ensemble of "
                    "trailing, exponentially weighted and shrunk yields, and the account's "
                    "regression on its recent history, by how clearly the account's own "
                    "backtest favours each.")
    if not {"model", "cpa", "cpc"} & set(metrics):
        st.info("The latest training recorded no backtest metrics.", icon=":material/info:")
        return
    seconds = run.get("duration_seconds")
    window = (fmt.date_range(queries.as_date(run["train_start"]), queries.as_date(run["train_end"]))
              if run.get("train_start") and run.get("train_end") else fmt.DASH)
    horizon = (run.get("parameters") or {}).get("horizon_days")
    st.markdown(f"**Model run {run['id']}** · trained on {window} · "
                f"{f'{horizon}-day horizon · ' if horizon else ''}"
                f"{len(metrics.get('origins', []))} backtest origins · "
                f"took {f'{seconds:.1f} s' if seconds is not None else fmt.DASH}"
                + (" · :orange-badge[Stale: settings changed, retrain]"
                   if run.get("status") == "stale" else ""))
    if "cpa" in metrics:
        st.caption("Campaigns without revenue: CPA over the horizon (errors in the data's "
                   "currency).")
        st.dataframe(backtest_table(metrics["cpa"]), hide_index=True, width="stretch",
                     key="prd_backtest_cpa", column_config=BACKTEST_COLUMNS)
    if "cpc" in metrics:
        st.caption(f"{CPC_WORDS}: cost per click over the horizon (errors in the data's "
                   "currency).")
        st.dataframe(backtest_table(metrics["cpc"]), hide_index=True, width="stretch",
                     key="prd_backtest_cpc", column_config=BACKTEST_COLUMNS)
    if "model" not in metrics:
        return
    table_df = backtest_table(metrics)
    st.dataframe(table_df, hide_index=True, width="stretch", key="prd_backtest",
                 column_config=BACKTEST_COLUMNS)
    blend = (metrics.get("blend") or {}).get("weights") or {}
    if blend:
        st.plotly_chart(charts.metric_bars_figure(
            {METHOD_WORDS.get(m, m): w for m, w in sorted(blend.items(), key=lambda kv: -kv[1])},
            title="What serves the forecast: weights from the account's backtest", fmt=".0%",
            height=200), key="prd_blend_chart", **CHART)
    left, right = st.columns(2)
    wmae = dict(zip(table_df["Forecaster"], table_df["Spend-weighted MAE"], strict=True))
    left.plotly_chart(charts.metric_bars_figure(
        wmae, title="Spend-weighted MAE by forecaster (lower is better)",
        highlight=FORECASTER_LABELS["model"]), key="prd_wmae_chart", **CHART)
    importance = dict(sorted((metrics.get("importance") or {}).items(),
                             key=lambda kv: -(kv[1] or 0))[:12])
    if not importance:
        return
    right.plotly_chart(charts.metric_bars_figure(
        importance, title="Permutation importance (rise in spend-weighted MAE)"),
        key="prd_importance_chart", **CHART)


# --------------------------------------------------------------------------------------------
# Training and forecasting


def _forecast(engine: sa.Engine) -> str | None:
    """Forecast every spending campaign; the message to flash, or None after saying why not
    (no usable model, too little data)."""
    try:
        with st.spinner("Forecasting every campaign that spent in the last 7 days…"):
            result = ml.predict(engine, settings())
    except RetrainNeeded as exc:
        st.info(f"**Train the model first.** {exc.sentence()}", icon=":material/model_training:")
        return None
    except NotEnoughData as exc:
        st.warning(exc.sentence(), icon=":material/warning:")
        return None
    return f"{result.written} predictions as of {fmt.date(result.as_of)}"


def run_predictions(engine: sa.Engine) -> None:
    """Forecast, then clear the caches and rerun (or say why there are no forecasts)."""
    message = _forecast(engine)
    if message:
        rerun_with(message)


def train_model(engine: sa.Engine) -> None:
    """Train with a progress bar (one training per process at a time), then forecast."""
    lock = training_lock()
    if st.session_state.get(KEY_TRAINING) or not lock.acquire(blocking=False):
        st.warning("Training is already running; its results show here when it finishes.",
                   icon=":material/hourglass_top:")
        return
    st.session_state[KEY_TRAINING] = True
    try:
        with progress("Training the ROI model…") as (status, report):
            try:
                result = ml.train(engine, settings(), progress=report)
            except NotEnoughData as exc:
                status.update(label="Not enough data to train", state="error")
                st.warning(exc.sentence(), icon=":material/warning:")
                return
            except DemetraError as exc:  # e.g. the model folder is not writable
                status.update(label="Training failed", state="error")
                st.error(f"Training failed: {exc.sentence()}", icon=":material/error:")
                return
            status.update(label=f"Trained model run {result.run_id} in {result.seconds:.1f} s",
                          state="complete", expanded=False)
    finally:
        st.session_state[KEY_TRAINING] = False
        lock.release()
    rerun_with(_forecast(engine) or f"Model run {result.run_id} trained")


def _save_model_settings(engine: sa.Engine, current: ml.ModelSettings,
                         values: dict[str, Any]) -> str:
    saved = ml_settings.save_model_settings(engine, ml.ModelSettings(**values))
    note = ("; the horizon changed, so the model must be retrained before the next predictions"
            if saved.horizon_days != current.horizon_days
            else "; they apply from the next predictions")
    return f"Model settings saved{note}"


# --------------------------------------------------------------------------------------------
# The page


def _toolbar(engine: sa.Engine) -> None:
    running = training_running()
    train_col, predict_col, _ = st.columns([1, 1, 3], vertical_alignment="bottom")
    train_clicked = train_col.button(
        "Train model", icon=":material/model_training:", type="primary", key="prd_train",
        disabled=running, help="Backtest against three baselines, then fit on the whole "
                               "history (about half a minute on the demo world)")
    predict_clicked = predict_col.button("Run predictions", icon=":material/online_prediction:",
                                         key="prd_predict", disabled=running)
    if running and not train_clicked:
        st.info("Training is already running; reload the page when it has finished.",
                icon=":material/hourglass_top:")
    if train_clicked:
        train_model(engine)
    elif predict_clicked:
        run_predictions(engine)
    elif ml.predictions_are_stale(engine) and not running:
        # Newer campaign data than the newest forecasts: forecast again (once a model exists).
        run_predictions(engine)


def _one_campaign(engine: sa.Engine, forecasts: pd.DataFrame, as_of: dt.date,
                  horizon: int) -> None:
    st.subheader("A campaign's history and forecast", anchor=False)
    names = dict(zip(forecasts["campaign_id"], _names(forecasts), strict=True))
    pick = st.selectbox("Campaign", list(names), key="prd_pick", format_func=names.get)
    row = forecasts[forecasts["campaign_id"] == pick].iloc[0]
    history = cache.campaign_history(engine, pick, as_of - dt.timedelta(days=41), as_of)
    currency = cache.reporting_currency(engine)
    method = f" · {METHOD_WORDS.get(row['method'], row['method'] or 'Pooled model')}: " \
             f"{row['method_reason'] or fmt.DASH}"
    if row["metric"] in ("cpa", "cpc"):
        # No revenue: the ROI axis would be a line of zeros; the forecast is of CPA or CPC.
        st.plotly_chart(charts.campaign_history_figure(history, currency=currency),
                        key="prd_history", **CHART)
        word, what = (("CPA", "revenue not tracked") if row["metric"] == "cpa"
                      else ("CPC", "neither revenue nor results tracked"))
        st.markdown(f"{RISK_BADGES.get(row['risk_level'], row['risk_level'])} · {what} · "
                    f"forecast {word} **{fmt.money(row['predicted_cpa'], currency)}** "
                    f"(P10–P90 {fmt.money(row['predicted_cpa_low'], currency)}–"
                    f"{fmt.money(row['predicted_cpa_high'], currency)}) · probability it is "
                    f"above the target {fmt.money(row['cpa_target'], currency)} "
                    f"**{fmt.pct(row['prob_cpa_above'], 0)}**")
        st.caption(method.removeprefix(" · "))
        return
    fig = charts.forecast_band(charts.campaign_history_figure(history, currency=currency),
                               as_of + dt.timedelta(days=1), as_of + dt.timedelta(days=horizon),
                               float(row["predicted_roi_low"]), float(row["predicted_roi"]),
                               float(row["predicted_roi_high"]))
    st.plotly_chart(fig, key="prd_history", **CHART)
    st.markdown(f"{RISK_BADGES.get(row['risk_level'], row['risk_level'])} · forecast ROI "
                f"**{fmt.roi(row['predicted_roi'])}** (P10–P90 "
                f"{fmt.roi(row['predicted_roi_low'])}–{fmt.roi(row['predicted_roi_high'])})"
                f" · probability of a loss **{fmt.pct(row['prob_loss'], 0)}**")
    st.caption(method.removeprefix(" · "))


def _forecasts(engine: sa.Engine, channels: tuple[str, ...]) -> None:
    st.subheader("Forecasts", anchor=False)
    risks = st.multiselect("Risk", list(ml.RISK_LEVELS[::-1]), key="prd_risk",
                           format_func=RISK_WORDS.get, placeholder="All risk levels")
    forecasts = predictions_view(engine, channels, tuple(risks))
    listed = not_forecast_view(engine, channels)
    if forecasts.empty:
        if not ml.latest_predictions(engine, limit=1).empty:
            st.info("No forecasts match these filters.", icon=":material/filter_alt_off:")
        elif listed.empty:
            st.caption("No predictions yet.")
        else:
            st.info("No campaign could be forecast: the campaigns below say why.",
                    icon=":material/info:")
        _not_forecast(listed)
        return
    first = forecasts.iloc[0]
    as_of, horizon = queries.as_date(first["as_of"]), int(first["horizon_days"])
    counts = forecasts["risk_level"].value_counts()
    kinds = forecasts["metric"].value_counts()
    what = " and ".join(f"{label} of {int(kinds[k]):,}" for k, label in
                        (("roi", "ROI"), ("cpa", "CPA (no revenue tracked)"),
                         ("cpc", CPC_WORDS)) if k in kinds)
    st.markdown(f"{len(forecasts):,} campaigns · {what} over the {horizon} days after "
                f"{fmt.date(as_of)} · "
                + " ".join(f"{RISK_BADGES[k]} {int(counts.get(k, 0))}"
                           for k in ("high", "medium", "low")))
    st.dataframe(risk_table(forecasts), hide_index=True, width="stretch", key="prd_table",
                 column_config=PREDICTION_COLUMNS, height=rows_height(len(forecasts)))
    for metric, caption in (
            ("roi", "the point is the forecast ROI, the bar its P10–P90 interval; the dotted "
                    "line is break-even."),
            ("cpa", "campaigns without revenue: the point is the forecast cost per result, the "
                    "bar its P10–P90 interval, the diamond the target CPA."),
            ("cpc", "campaigns tracking neither revenue nor results: the point is the forecast "
                    "cost per click, the bar its P10–P90 interval, the diamond the target "
                    "CPC (its own trailing 28 days).")):
        part = forecasts[forecasts["metric"] == metric].head(15)
        if part.empty:
            continue
        st.plotly_chart(charts.forecast_intervals_figure(part.assign(label=_names(part)),
                                                         metric=metric),
                        key=f"prd_intervals{'' if metric == 'roi' else '_' + metric}", **CHART)
        word = {"roi": "ROI", "cpa": "CPA", "cpc": CPC_WORDS}[metric]
        st.caption(f"The {len(part)} riskiest {word} forecasts: " + caption)
    _not_forecast(listed)
    _one_campaign(engine, forecasts, as_of, horizon)


def _not_forecast(listed: pd.DataFrame) -> None:
    """Campaigns that spent recently but were not forecast, with the reason: never dropped
    silently."""
    if listed.empty:
        return
    st.markdown(f"**Not forecast ({len(listed)})** · campaigns that spent in the last 7 days "
                f"but cannot be forecast, and why")
    st.dataframe(listed, hide_index=True, width="stretch", key="prd_not_forecast")


def render() -> None:
    engine = get_engine()
    page_header("Predictions", active_filters())
    f = require_filters(engine)  # no data yet: the empty state, and the page stops here

    _toolbar(engine)

    run = ml.latest_model_run(engine)
    with st.expander("Model quality: backtest against the baselines", expanded=run is not None,
                     icon=":material/query_stats:"):
        if run is None:
            st.caption("No model trained yet.")
        else:
            show_model_run(run)

    _forecasts(engine, f.channels)

    with st.expander("Model settings", icon=":material/tune:"):
        current = ml_settings.load_model_settings(engine)
        settings_form("prd_settings", ml_settings.SPECS, current, key_prefix="prd_set_",
                      step=0.05, save=lambda values: _save_model_settings(engine, current, values))
