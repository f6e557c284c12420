"""Predictions: train the ROI model (backtest vs. baselines), forecast every campaign, the risky
ones first, and one campaign's history with its forecast band."""

import datetime as dt

import streamlit as st

from demetra import charts, ml, ui

engine = ui.get_engine()
ui.page_header("Predictions", ui.active_filters())
f = ui.require_filters(engine)  # no data yet: the empty state, and the page stops here

# --- Toolbar ---------------------------------------------------------------------------------
running = ui.training_running()
train_col, predict_col, _ = st.columns([1, 1, 3], vertical_alignment="bottom")
train_clicked = train_col.button("Train model", icon=":material/model_training:", type="primary",
                                 key="prd_train", disabled=running,
                                 help="Backtest against three baselines, then fit on the whole "
                                      "history (about half a minute on the demo world)")
predict_clicked = predict_col.button("Run predictions", icon=":material/online_prediction:",
                                     key="prd_predict", disabled=running)
if running and not train_clicked:
    st.info("Training is already running; reload the page when it has finished.",
            icon=":material/hourglass_top:")
if train_clicked:
    ui.train_model(engine)
elif predict_clicked:
    ui.run_predictions(engine)
elif ui.predictions_are_stale(engine) and not running:
    # Newer campaign data than the newest forecasts: forecast again (once a model exists).
    ui.run_predictions(engine)

# --- Latest training -------------------------------------------------------------------------
run = ui.latest_model_run(engine)
with st.expander("Model quality: backtest against the baselines", expanded=run is not None,
                 icon=":material/query_stats:"):
    if run is None:
        st.caption("No model trained yet.")
    else:
        ui.show_model_run(run)

# --- Forecasts -------------------------------------------------------------------------------
st.subheader("Forecasts", anchor=False)
risks = st.multiselect("Risk", list(ml.RISK_LEVELS[::-1]), key="prd_risk",
                       format_func=ui.RISK_WORDS.get, placeholder="All risk levels")
forecasts = ui.predictions_view(engine, f.channels, tuple(risks))
if forecasts.empty:
    if ml.latest_predictions(engine, limit=1).empty:
        st.caption("No predictions yet.")
    else:
        st.info("No forecasts match these filters.", icon=":material/filter_alt_off:")
else:
    first = forecasts.iloc[0]
    as_of, horizon = ui.as_day(first["as_of"]), int(first["horizon_days"])
    counts = forecasts["risk_level"].value_counts()
    st.markdown(f"{len(forecasts):,} campaigns · ROI over the {horizon} days after "
                f"{ui.fmt_date(as_of)} · "
                + " ".join(f"{ui.RISK_BADGES[k]} {int(counts.get(k, 0))}"
                           for k in ("high", "medium", "low")))
    st.dataframe(ui.risk_table(forecasts), hide_index=True, width="stretch",
                 key="prd_table", column_config=ui.PREDICTION_COLUMNS,
                 height=min(38 + 35 * len(forecasts), 38 + 35 * 15))
    riskiest = forecasts.head(15).assign(
        label=lambda d: [n or c for n, c in zip(d["campaign_name"], d["campaign_id"], strict=True)])
    st.plotly_chart(charts.forecast_intervals_figure(riskiest), width="stretch",
                    key="prd_intervals", config={"displayModeBar": False})
    st.caption("The 15 riskiest campaigns: the point is the forecast ROI, the bar its P10–P90 "
               "interval; the dotted line is break-even.")

    # --- One campaign ---------------------------------------------------------------------------
    st.subheader("A campaign's history and forecast", anchor=False)
    names = {c: n or c for c, n in zip(forecasts["campaign_id"], forecasts["campaign_name"],
                                       strict=True)}
    pick = st.selectbox("Campaign", list(names), key="prd_pick", format_func=names.get)
    row = forecasts[forecasts["campaign_id"] == pick].iloc[0]
    history = ui.campaign_history(engine, pick, as_of - dt.timedelta(days=41), as_of)
    fig = charts.forecast_band(charts.campaign_history_figure(history),
                               as_of + dt.timedelta(days=1), as_of + dt.timedelta(days=horizon),
                               float(row["predicted_roi_low"]), float(row["predicted_roi"]),
                               float(row["predicted_roi_high"]))
    st.plotly_chart(fig, width="stretch", key="prd_history", config={"displayModeBar": False})
    st.markdown(f"{ui.RISK_BADGES.get(row['risk_level'], row['risk_level'])} · forecast ROI "
                f"**{ui.fmt_roi(row['predicted_roi'])}** (P10–P90 "
                f"{ui.fmt_roi(row['predicted_roi_low'])}–{ui.fmt_roi(row['predicted_roi_high'])})"
                f" · probability of a loss **{ui.fmt_pct(row['prob_loss'], 0)}**")

# --- Settings --------------------------------------------------------------------------------
with st.expander("Model settings", icon=":material/tune:"):
    ui.model_settings_form(engine)
