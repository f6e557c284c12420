"""ROI forecasting benchmark (issue 3): backtest quality on the seeded world, and speed.

Quality: seeds the 300 campaigns × 365 days world (seed 7) into a fresh SQLite file, runs
``demetra.ml.train`` (rolling-origin backtest over 4 origins, then the final fit) and reports
the backtest metrics of the model and of the three baselines against the targets:

* spend-weighted MAE ≤ 0.85 × the best baseline's;
* P10–P90 coverage in [0.75, 0.85];
* precision of "high" risk (prob_loss ≥ 0.5) for a realised ROI < 1 ≥ 0.7.

It also scores a noise floor: the forecast that knows the world's *true* expected revenue
over each horizon (from the seeded truth: each channel's Hill curve at the realised channel
spend, shared by spend × quality — future spend included). No model can expect to beat it;
its ratio to the trailing-28-day baseline shows how much the MAE target leaves room for.

Speed: seeds 2,000 campaigns × 540 days (≈1M rows) and times ``train`` (read + backtest +
fit + save), ``predict`` (2,000 campaigns) and the Predictions page (AppTest) in process, on
SQLite and (if reachable on loopback) PostgreSQL. Targets: train ≤ 90 s, predict ≤ 5 s,
page ≤ 1 s.

Writes the ``## ROI forecasting (issue 3)`` section of ``benchmarks/RESULTS.md`` (other
sections are left alone) and prints it.

Small accounts (issue 13, ``--small``): seeded small accounts (3, 5 and 8 campaigns × 120 days,
several seeds, with pauses) and lead-generation accounts (no revenue: CPA), each trained and
backtested by ``demetra.ml.train`` (per-campaign forecasts: fewer than 20 campaigns for the
pooled model); reports the spend-weighted MAE of the forecasts against the campaign's
trailing-28-day value (of ROI, or of CPA) over the same rolling origins, on the seeds the
method was designed on (``--seeds``, 1-4) and on held-out seeds (``--held-out``, 5-8), each
in its own table. Target: not worse than the baseline on any account, better on most.
Writes ``## Forecasts on small accounts (issue 13)``.

    python benchmarks/bench_ml.py                 # everything (~5-10 min on 2 cores)
    python benchmarks/bench_ml.py --no-pg --no-write
    python benchmarks/bench_ml.py --small         # small accounts only (~30 s)
    python benchmarks/bench_ml.py --small --seeds 1,2 --held-out ''   # some seeds only
    python benchmarks/bench_ml.py --zoo           # the zoo, seeds 1-3 and held-out 4-20 (~45 min)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from common import Databases, loopback_pg_url, write_section

from demetra.config import CHANNELS, Settings
from demetra.db.engine import make_engine
from demetra.ml import predict, train
from demetra.ml.features import features_at, labels_at, load_panel, recent_spend
from demetra.seed import load_truth, seed_database
from demetra.seed_world import hill

ROOT = Path(__file__).resolve().parents[1]

SECTION = "## ROI forecasting (issue 3)"
END = dt.date(2026, 6, 30)
QUALITY_WORLD = (300, 365, 7)
SPEED_WORLD = (2000, 540, 7)
TARGET_MAE_RATIO, TARGET_COVERAGE, TARGET_PRECISION = 0.85, (0.75, 0.85), 0.7
TARGET_TRAIN_S, TARGET_PREDICT_S, TARGET_PAGE_S = 90.0, 5.0, 1.0


def noise_floor(engine: sa.Engine, origin_dates: list[str], horizon: int) -> dict[str, float]:
    """Spend-weighted MAE of the true expected ROI over each origin's horizon (and of the
    trailing 28-day ROI on the same rows), from the seeded truth."""
    truth = load_truth(engine)
    start = dt.date.fromisoformat(truth["start_date"])
    panel = load_panel(engine, start, END)
    quality = np.array([truth["campaigns"][c]["quality"] for c in panel.campaign_ids])
    codes = np.array([CHANNELS.index(c) for c in panel.channels])
    cost = panel.grid["cost"]
    weight = cost * quality[:, None]
    spend = np.zeros((len(CHANNELS), panel.days))
    wsum = np.zeros_like(spend)
    np.add.at(spend, codes, cost)
    np.add.at(wsum, codes, weight)
    ch = truth["channels"]
    curve = np.array([hill(spend[k], ch[c]["vmax"], ch[c]["half_saturation"], ch[c]["shape"])
                      for k, c in enumerate(CHANNELS)])
    expected = curve[codes] * weight / np.where(wsum[codes] > 0, wsum[codes], 1.0)
    cum = np.concatenate([np.zeros((len(quality), 1)), np.cumsum(expected, axis=1)], axis=1)
    err_true = err_28 = total = 0.0
    for day in origin_dates:
        t = panel.day_index(dt.date.fromisoformat(day))
        roi, future_spend = labels_at(panel, t, horizon)
        keep = (recent_spend(panel, t) > 0) & (future_spend > 0) & np.isfinite(roi)
        true_roi = ((cum[:, t + 1 + horizon] - cum[:, t + 1])
                    / np.where(future_spend > 0, future_spend, 1))
        r28 = features_at(panel, t)["roi_28"].to_numpy(float)
        w = future_spend[keep]
        err_true += float(np.sum(np.abs(true_roi[keep] - roi[keep]) * w))
        err_28 += float(np.sum(np.abs(r28[keep] - roi[keep]) * w))
        total += float(w.sum())
    return {"wmae_true": err_true / total, "wmae_28": err_28 / total,
            "ratio": err_true / err_28}


def quality(dbs: Databases, seed: int = QUALITY_WORLD[2]) -> dict[str, Any]:
    campaigns, days, _ = QUALITY_WORLD
    url = dbs.new("sqlite", f"quality-{seed}")
    engine = make_engine(url)
    seed_database(engine, campaigns=campaigns, days=days, seed=seed, end_date=END)
    result = train(engine, Settings(database_url=url, model_dir=str(dbs.tmp / "models-q")))
    floor = noise_floor(engine, result.metrics["origins"], result.horizon_days)
    engine.dispose()
    return {"result": result, "floor": floor}


def speed(dbs: Databases, backend: str) -> dict[str, Any]:
    campaigns, days, seed = SPEED_WORLD
    url = dbs.new(backend, "speed")
    engine = make_engine(url)
    seeded = seed_database(engine, campaigns=campaigns, days=days, seed=seed, end_date=END)
    settings = Settings(database_url=url, model_dir=str(dbs.tmp / f"models-{backend}"))
    t0 = time.perf_counter()
    result = train(engine, settings)
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    done = predict(engine, settings)
    predict_s = time.perf_counter() - t1
    engine.dispose()
    return {"backend": backend, "rows": seeded.rows, "train_rows": result.rows,
            "examples": result.examples, "train_s": train_s, "timings": result.timings,
            "predict_s": predict_s, "written": done.written, "skipped": done.skipped_no_spend,
            "page": page_render(url, settings.model_dir)}


def page_render(url: str, model_dir: str) -> dict[str, Any]:
    """Seconds for the Predictions page (AppTest, in process): opened after another page
    (its queries not cached yet) and rerun (a widget change)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.secrets["DATABASE_URL"] = url
    at.secrets["MODEL_DIR"] = model_dir
    at.run()
    t0 = time.perf_counter()
    at.switch_page("app_pages/predictions.py").run()
    first = time.perf_counter() - t0
    t1 = time.perf_counter()
    at.run()
    rerun = time.perf_counter() - t1
    problems = [str(e.value)[:200] for e in (*at.exception, *at.error)]
    return {"first": first, "rerun": rerun, "problems": problems}


def _f(v: Any, fmt: str = ".3f") -> str:
    return "—" if v is None else format(v, fmt)


def _ratio(q: dict[str, Any]) -> float:
    m, base = q["result"].metrics["model"], q["result"].metrics["baselines"]
    return m["wmae"] / min(b["wmae"] for b in base.values())


def report(q: dict[str, Any] | None, runs: list[dict[str, Any]], notes: list[str],
           others: dict[int, dict[str, Any]] | None = None) -> str:
    out = [SECTION, "",
           f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
           f"({os.cpu_count()} cores, Python {platform.python_version()}), "
           "`python benchmarks/bench_ml.py`. The machine was shared with other jobs.", ""]
    if q is not None:
        r = q["result"]
        m, base = r.metrics["model"], r.metrics["baselines"]
        best_name = min(base, key=lambda k: base[k]["wmae"])
        ratio = m["wmae"] / base[best_name]["wmae"]
        lo, hi = TARGET_COVERAGE
        out += [f"### Backtest quality: {QUALITY_WORLD[0]} campaigns × {QUALITY_WORLD[1]} days, "
                f"seed {QUALITY_WORLD[2]} ({r.horizon_days}-day horizon)", "",
                f"Rolling origin, {len(r.metrics['origins'])} origins "
                f"({', '.join(r.metrics['origins'])}), each trained only on examples whose "
                f"label window ends by the origin; {m['n']} campaign forecasts pooled. "
                "Baselines' intervals and prob_loss come from the empirical distribution of "
                "realised / baseline ratios in the same training examples.", "",
                "| forecast | spend-weighted MAE | MAE | P10–P90 coverage | Brier "
                "| high-risk precision | high-risk recall |",
                "|---|---|---|---|---|---|---|"]
        tree = r.metrics.get("tree")
        for name, s in (("model (served: the blend)", m),
                        *((("trees alone", tree),) if tree else ()), *base.items()):
            out.append(f"| {name} | {_f(s['wmae'])} | {_f(s['mae'])} | {_f(s['coverage'], '.1%')} | "
                       f"{_f(s['brier'])} | {_f(s['high_precision'], '.1%')} | "
                       f"{_f(s['high_recall'], '.1%')} |")
        f = q["floor"]
        cov_ok = lo <= m["coverage"] <= hi
        prec_ok = (m["high_precision"] or 0) >= TARGET_PRECISION
        out += ["", "| target | result | met |", "|---|---|---|",
                f"| spend-weighted MAE ≤ {TARGET_MAE_RATIO} × best baseline ({best_name}) | "
                f"{ratio:.3f} × | {'yes' if ratio <= TARGET_MAE_RATIO else '**no**'} |",
                f"| P10–P90 coverage in [{lo}, {hi}] | {m['coverage']:.3f} | "
                f"{'yes' if cov_ok else '**no**'} |",
                f"| high-risk precision ≥ {TARGET_PRECISION} | {_f(m['high_precision'])} | "
                f"{'yes' if prec_ok else '**no**'} |", "",
                f"Noise floor on the same rows: the true expected ROI over each horizon (seeded "
                f"truth, realised future spend included) scores a spend-weighted MAE of "
                f"{f['wmae_true']:.3f} against the trailing 28-day ROI's {f['wmae_28']:.3f}: "
                f"{f['ratio']:.3f} ×. What is left is the week's own noise (Poisson conversions, "
                "order values, incidents yet to happen), which no forecast made at the origin "
                "can know" + (f"; a ratio of {TARGET_MAE_RATIO} is below what even a perfect "
                              "model of this world reaches, so that target cannot be met without "
                              "changing the world." if f["ratio"] > TARGET_MAE_RATIO else "."),
                "", "Permutation importance (newest origin; increase of spend-weighted MAE when "
                "shuffled): " + ", ".join(f"{k} {v:+.4f}" for k, v in list(r.importance.items())[:6])
                + ".", "",
                f"Train (backtest + final fit) took {r.seconds:.1f} s on {r.rows:,} rows.", ""]
    if others:
        out += ["Other seeds of the same world size (not the target's world; shown so that the "
                "result is not one tuned world): the model's ratio to the best baseline beside "
                "the noise floor's.", "",
                "| seed | model × best baseline | true expected ROI × trailing 28-day | "
                "coverage | high-risk precision |", "|---|---|---|---|---|"]
        for seed, o in others.items():
            m = o["result"].metrics["model"]
            out.append(f"| {seed} | {_ratio(o):.3f} | {o['floor']['ratio']:.3f} | "
                       f"{m['coverage']:.3f} | {_f(m['high_precision'])} |")
        out.append("")
    if runs:
        out += [f"### Speed: {SPEED_WORLD[0]:,} campaigns × {SPEED_WORLD[1]} days", "",
                "| backend | rows in DB | rows read | examples | train (s) "
                "| of which read / backtest / fit | predict (s) | predictions "
                "| Predictions page: opened / rerun (s) "
                "| target train ≤ 90 s / predict ≤ 5 s / page ≤ 1 s |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for s in runs:
            t = s["timings"]
            page = s["page"]
            ok = (s["train_s"] <= TARGET_TRAIN_S and s["predict_s"] <= TARGET_PREDICT_S
                  and page["first"] <= TARGET_PAGE_S and not page["problems"])
            out.append(f"| {s['backend']} | {s['rows']:,} | {s['train_rows']:,} | {s['examples']:,} | "
                       f"{s['train_s']:.1f} | {t['read']:.1f} / {t['backtest']:.1f} / {t['fit']:.1f} | "
                       f"{s['predict_s']:.2f} | {s['written']:,} | {page['first']:.2f} / "
                       f"{page['rerun']:.2f} | {'yes' if ok else '**no**'} |")
            if page["problems"]:
                out.append(f"\nThe {s['backend']} page showed: {'; '.join(page['problems'])}")
        out.append("")
    out += [*notes, ""] if notes else []
    return "\n".join(out).rstrip() + "\n"


SMALL_SECTION = "## Forecasts on small accounts (issue 13)"
SMALL_SIZES, SMALL_DAYS = (3, 5, 8), 120
SMALL_SEEDS, SMALL_HELD_OUT = (1, 2, 3, 4), (5, 6, 7, 8)
ZOO_SMALL_SEEDS = (1, 2, 3, 4, 5, 6)   # the zoo's worlds at small sizes (never tuned on)
EQUAL = 0.0005   # a ratio within this of 1 prints as 1.000: the same forecasts, or as good


def small_accounts(dbs: Databases, seeds: tuple[int, ...]) -> list[dict[str, Any]]:
    """Backtest every small and lead-generation account as train() does; one row per account,
    with the oracle (the world's expected outcome) scored on the same forecasts."""
    return [small_account(dbs, n, seed, outcome=outcome)
            for outcome in ("revenue", "results") for n in SMALL_SIZES for seed in seeds]


def zoo_small_accounts(dbs: Databases, seeds: tuple[int, ...]) -> list[dict[str, Any]]:
    """The same on accounts of 3, 5 and 8 campaigns of every world of ``demetra.zoo``."""
    from demetra.zoo import WORLDS

    return [small_account(dbs, n, seed, world=name)
            for name in WORLDS for n in SMALL_SIZES for seed in seeds]


def small_account(dbs: Databases, n: int, seed: int, *, outcome: str = "revenue",
                  world: str | None = None) -> dict[str, Any]:
    """One account of ``n`` campaigns × SMALL_DAYS: the seeder's small account (pauses) of
    ``outcome``, or a world of the zoo of that size; its backtest and its oracle."""
    from demetra.ml.small import backtest_small
    from demetra.seed_world import generate_world
    from demetra.zoo import make_world

    url = dbs.new("sqlite", f"small_{world or outcome}_{n}_{seed}")
    engine = make_engine(url)
    if world is None:
        seed_database(engine, campaigns=n, days=SMALL_DAYS, seed=seed, end_date=END,
                      small=True, outcome=outcome)
        truth = generate_world(n, SMALL_DAYS, seed, END, outcome=outcome, small=True)
    else:
        seed_database(engine, campaigns=n, days=SMALL_DAYS, seed=seed, end_date=END,
                      world=world)
        truth = make_world(world, campaigns=n, days=SMALL_DAYS, seed=seed, end_date=END)
        outcome = truth.truth["outcome"]
    start = dt.date.fromisoformat(truth.truth["start_date"])
    panel = load_panel(engine, start, END)
    engine.dispose()
    t0 = time.perf_counter()
    bt = backtest_small(panel, HORIZON, (0.5, 0.25))
    seconds = time.perf_counter() - t0
    metric = "roi" if outcome == "revenue" else "cpa"
    block = bt if outcome == "revenue" else bt.get("cpa", {})
    model = block.get("model") or {}
    base = (block.get("baselines") or {}).get(f"trailing_28d_{metric}") or {}
    rows = bt["_forecasts"].get(metric)
    out = {"world": world, "outcome": outcome, "campaigns": n, "seed": seed,
           "n": model.get("n"), "wmae": model.get("wmae"), "baseline": base.get("wmae"),
           "coverage": model.get("coverage"), "seconds": seconds,
           "t": model.get("t_vs_baseline"),
           "oracle": None if rows is None else _oracle_wmae(panel, truth, rows, metric),
           "methods": bt.get("methods", {})}
    print(out, flush=True)
    return out


def _oracle_wmae(panel: Any, world: Any, rows: Any, metric: str) -> float:
    """Spend-weighted MAE of the world's expected ROI or CPA over each forecast's horizon
    (expected revenue or results before incidents and noise, over the horizon's real spend)."""
    expected = _on_panel(panel, world, world.expected)
    cum = np.concatenate([np.zeros((len(expected), 1)), np.cumsum(expected, axis=1)], axis=1)
    ci = rows.index.map({c: i for i, c in enumerate(panel.campaign_ids)}).to_numpy()
    o = rows["origin"].to_numpy()
    ahead = cum[ci, o + 1 + HORIZON] - cum[ci, o + 1]
    spend, real = rows["spend"].to_numpy(float), rows["real"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        truth = ahead / spend if metric == "roi" else spend / ahead
    ok = np.isfinite(truth)
    return float((np.abs(truth - real) * spend)[ok].sum() / spend[ok].sum())


def _on_panel(panel: Any, world: Any, values: np.ndarray) -> np.ndarray:
    """A value per row of a generated world (its expected outcome, its spend) on the panel's
    campaigns × days grid."""
    position = {c: i for i, c in enumerate(panel.campaign_ids)}
    start = dt.date.fromisoformat(world.truth["start_date"])
    grid = np.zeros((len(position), panel.days))
    np.add.at(grid, (world.rows["campaign_id"].map(position).to_numpy(),
                     np.array([(d - start).days for d in world.rows["date"]])), values)
    return grid


SMALL_HISTORY = (
    "What else was tried (2026-12-03, the 96 accounts of seeds 1-8 and 17-24; geometric mean "
    "of the ratio, accounts worse than the trailing 28 days, largest ratio). Before the "
    "structural reference joined the ensemble: 0.945, 14, 1.247; with it on ROI: 0.934, 11, "
    "1.247; on ROI and CPA (as served now): 0.925, 10, 1.212. On the zoo's small accounts "
    "(the table above): 0.958 and 21 of 90 worse before, 0.954 and 20 now. The largest, a "
    "3-campaign lead-generation account, is one campaign restarted after 27 paused days whose"
    " first four days ran at the CPA of the weeks that followed (55) while the longer methods"
    " still read its weeks before the pause (45-50). Each variant below was measured before "
    "the structural reference. Reading only the days since a pause of 7 or 14 days in every "
    "method but the baseline: 0.960, 25, 1.13 and 0.957, 22, 1.11 (a paused campaign's "
    "earlier weeks are, on most accounts, still its best evidence). Starting from a quarter "
    "of the ensemble instead of half: 0.959, 16, 1.18 (the accounts served worse are those "
    "the backtest moved, not the starting point). The ensemble without the shrinkage: 0.945, "
    "14, 1.19; with an exponentially weighted yield of 56-day half-life added: 0.943, 16, "
    "1.26; longer memory alone (56 and 112-day half-lives): 0.960, 32 and 0.973, 35. The "
    "oracle column shows that even the world's expected value is worse than the trailing 28 "
    "days on some accounts: over 8 origins of 3-8 campaigns, being worse on none is not a bar"
    " any forecast can promise; not being worse beyond the account's noise is.")


T_CLEAR = 2.0   # |t| of the per-origin error gap that is more than an account's luck


def _small_table(rows: list[dict[str, Any]], title: str) -> list[str]:
    lines = [title, "",
             "| account | campaigns | seed | forecasts | wMAE | trailing-28 wMAE | ratio | t | "
             "oracle ratio | P10–P90 coverage | methods |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    better = equal = worse = clearly_worse = clearly_better = oracle_worse = 0
    oracles = []
    for r in rows:
        ratio = (r["wmae"] / r["baseline"]) if r["wmae"] is not None and r["baseline"] else None
        if ratio is not None:
            better += ratio < 1 - EQUAL
            equal += abs(ratio - 1) <= EQUAL
            worse += ratio > 1 + EQUAL
        clearly_worse += (r.get("t") or 0.0) < -T_CLEAR
        clearly_better += (r.get("t") or 0.0) > T_CLEAR
        oracle = r["oracle"] / r["baseline"] if r.get("oracle") is not None and r["baseline"] \
            else None
        if oracle is not None:
            oracles.append(oracle)
            oracle_worse += oracle > 1 + EQUAL
        kind = "ROI" if r["outcome"] == "revenue" else "CPA (lead gen)"
        methods = ", ".join(f"{k} {v}" for k, v in r["methods"].items())
        lines.append(f"| {kind} | {r['campaigns']} | {r['seed']} | {r['n'] or 0} | "
                     f"{_f(r['wmae'])} | {_f(r['baseline'])} | {_f(ratio, '.3f')} | "
                     f"{_f(r.get('t'), '.2f')} | {_f(oracle, '.3f')} | "
                     f"{_f(r['coverage'], '.0%')} | {methods} |")
    scored = [r for r in rows if r["coverage"] is not None and r["n"]]
    pooled = (sum(r["coverage"] * r["n"] for r in scored) / sum(r["n"] for r in scored)
              if scored else None)
    worst = max((r["wmae"] / r["baseline"] for r in rows if r["wmae"] is not None
                 and r["baseline"]), default=None)
    lines += ["", f"Better than the trailing-28-day value on {better} of {len(rows)} accounts, "
              f"equal (ratio within {EQUAL} of 1) on {equal}, worse on {worse} (largest ratio "
              f"{_f(worst, '.3f')}); P10–P90 coverage {_f(pooled, '.1%')} over all forecasts. "
              f"Beyond the noise of the account's own origins (paired t of the per-origin "
              f"errors, |t| > {T_CLEAR:g}): better on {clearly_better}, worse on "
              f"{clearly_worse}. The oracle (the world's expected value over the same "
              f"forecasts) scores {_f(_geo(oracles), '.3f')} of the trailing 28 days' error "
              f"(geometric mean) and is itself worse than it on {oracle_worse} of "
              f"{len(oracles)} accounts.", ""]
    return lines


def _geo(values: list[float]) -> float | None:
    return float(np.exp(np.mean(np.log(values)))) if values else None


def _zoo_small_table(rows: list[dict[str, Any]], seeds: tuple[int, ...]) -> list[str]:
    """One line per world of the zoo: its small accounts pooled."""
    lines = [f"### Small accounts of the zoo's worlds (3, 5, 8 campaigns × {SMALL_DAYS} days, "
             f"seeds {', '.join(map(str, seeds))})", "",
             "Per world: the geometric mean of each account's ratio to the trailing 28 days, "
             "the accounts better / equal / worse, the largest ratio, the accounts worse "
             "beyond their noise (t < −2), the oracle's geometric mean and P10–P90 "
             "coverage over all forecasts.", "",
             "| world | metric | accounts | ratio (geometric mean) | better / equal / worse | "
             "largest | worse, t < −2 | oracle | P10–P90 coverage |",
             "|---|---|---:|---:|---|---:|---:|---:|---:|"]
    for world in dict.fromkeys(r["world"] for r in rows):
        mine = [r for r in rows if r["world"] == world and r["wmae"] is not None
                and r["baseline"]]
        ratios = [r["wmae"] / r["baseline"] for r in mine]
        oracles = [r["oracle"] / r["baseline"] for r in mine if r.get("oracle") is not None]
        n = sum(r["n"] or 0 for r in mine)
        cover = sum((r["coverage"] or 0) * (r["n"] or 0) for r in mine) / n if n else None
        counts = (sum(x < 1 - EQUAL for x in ratios), sum(abs(x - 1) <= EQUAL for x in ratios),
                  sum(x > 1 + EQUAL for x in ratios))
        metric = "ROI" if mine and mine[0]["outcome"] == "revenue" else "CPA"
        lines.append(f"| {world} | {metric} | {len(mine)} | {_f(_geo(ratios))} | "
                     f"{' / '.join(map(str, counts))} | {_f(max(ratios, default=None))} | "
                     f"{sum((r.get('t') or 0.0) < -T_CLEAR for r in mine)} | "
                     f"{_f(_geo(oracles))} | {_f(cover, '.0%')} |")
    every = [r["wmae"] / r["baseline"] for r in rows if r["wmae"] is not None and r["baseline"]]
    lines += ["", f"All {len(every)} accounts: {_f(_geo(every))} (geometric mean), worse than "
              f"the trailing 28 days on {sum(x > 1 + EQUAL for x in every)}.", ""]
    return lines


def small_report(design: list[dict[str, Any]], seeds: tuple[int, ...],
                 held_out: list[tuple[tuple[int, ...], list[dict[str, Any]]]],
                 zoo: list[dict[str, Any]] | None = None,
                 zoo_seeds: tuple[int, ...] = ()) -> str:
    lines = [SMALL_SECTION, "",
             f"`python benchmarks/bench_ml.py --small` on {platform.machine()}, Python "
             f"{platform.python_version()}, {dt.date.today()}: seeded small accounts "
             f"(`small=True`, pauses) of {', '.join(map(str, SMALL_SIZES))} campaigns × "
             f"{SMALL_DAYS} days; revenue accounts forecast on ROI, lead-generation accounts "
             "(`outcome=\"results\"`) on CPA. Rolling-origin backtest over 8 weekly origins "
             "(7-day horizon), against the trailing-28-day value over the same forecasts; "
             "each origin's forecast sees only the days up to it, its weights included.", "",
             "Method (`demetra.ml.small.combine`): each forecast weighs the trailing 28 "
             "days against the equal-weight ensemble of the trailing 28 days, shrinkage to "
             "channel and account, half trailing 7 / half trailing 56 days, exponentially "
             "weighted yields at 14 and 28-day half-lives and (ROI) the pooled model's "
             "structural reference: half each, moved towards the one "
             "with the lower error on the account's own backtest before the origin by the "
             "James–Stein factor 1 − 1/t² of their per-origin error difference (nothing "
             "moves unless |t| > 1). The account's regression on its recent history "
             "(`demetra.ml.linear`) then challenges that combination and takes 1 − 1/t² of "
             "the weight only where the backtest clearly favours it (t > 1). "
             "`combined` counts the forecasts so served. `t`: the paired t statistic of the "
             "per-origin spend-weighted error gap to the trailing 28 days (positive: better; "
             "over 8 origins of 3–8 campaigns a ratio of 1.1 can be luck). `oracle ratio`: "
             "the world's expected ROI or CPA (before incidents and noise, over the horizon's "
             "real spend, which no forecast knows) scored on the same forecasts, over the "
             "trailing 28 days' error.", ""]
    lines += _small_table(design, f"### Design seeds {', '.join(map(str, seeds))}")
    for held, rows in held_out:
        lines += _small_table(rows, f"### Held-out seeds {', '.join(map(str, held))} (not "
                                    "among the seeds the method was designed on)")
    if zoo:
        lines += _zoo_small_table(zoo, zoo_seeds)
    return "\n".join(lines + ["", SMALL_HISTORY])


def _seeds(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


ZOO_SECTION = "## Forecasts across the zoo (issue 14)"
ZOO_SEEDS, ZOO_CAMPAIGNS, ZOO_DAYS = (1, 2, 3), 60, 300
ZOO_HELD_OUT = tuple(range(4, 21))
HORIZON = 7


def zoo_world(dbs: Databases, name: str, seed: int) -> dict[str, Any]:
    """The backtest train() runs (``demetra.ml.backtest.backtest``, or the per-campaign one for
    an account without revenue), scored against the three baselines, every candidate and the
    oracle (the world's expected outcome over the same days)."""
    from demetra.ml.backtest import backtest
    from demetra.ml.small import METHODS, backtest_small
    from demetra.ml.train import BACKTEST_ORIGINS
    from demetra.zoo import make_world

    url = dbs.new("sqlite", f"zoo_{name}_{seed}")
    engine = make_engine(url)
    seed_database(engine, campaigns=ZOO_CAMPAIGNS, days=ZOO_DAYS, seed=seed, end_date=END,
                  world=name)
    world = make_world(name, campaigns=ZOO_CAMPAIGNS, days=ZOO_DAYS, seed=seed, end_date=END)
    start = dt.date.fromisoformat(world.truth["start_date"])
    panel = load_panel(engine, start, END)
    engine.dispose()
    row: dict[str, Any] = {"world": name, "seed": seed, "rows": len(world.rows)}
    t0 = time.perf_counter()
    if world.truth["outcome"] == "results":
        small = backtest_small(panel, HORIZON, (0.5, 0.25))
        bt = small["cpa"]
        row |= {"metric": "CPA", "n": bt["model"]["n"], "served": bt["model"]["wmae"],
                "coverage": bt["model"]["coverage"],
                "baselines": {"trailing_28d": bt["baselines"]["trailing_28d_cpa"]["wmae"]},
                "oracle": _oracle_wmae(panel, world, small["_forecasts"]["cpa"], "cpa"),
                "seconds": time.perf_counter() - t0}
        return row
    # Every scored origin served by the blend of the origins before it, as many as a trained
    # model weighs on: 8 more run first for their backtest records only.
    bt = backtest(panel, HORIZON, (0.5, 0.25), n_origins=BACKTEST_ORIGINS,
                  warmup=BACKTEST_ORIGINS)
    row["seconds"] = time.perf_counter() - t0
    fc = bt["_forecasts"]
    position = {c: i for i, c in enumerate(panel.campaign_ids)}
    expected = _on_panel(panel, world, world.expected)
    cost = _on_panel(panel, world, world.rows["cost"].to_numpy())
    ci = fc["campaign_id"].map(position).to_numpy()
    o = fc["origin"].to_numpy()
    ahead = np.array([expected[c, t + 1:t + 1 + HORIZON].sum() for c, t in zip(ci, o, strict=True)])
    spent = np.array([cost[c, t + 1:t + 1 + HORIZON].sum() for c, t in zip(ci, o, strict=True)])
    fc["oracle"] = np.where(spent > 0, ahead / np.where(spent > 0, spent, 1), np.nan)
    real, w = fc["real"].to_numpy(), fc["spend"].to_numpy()

    def wmae(col: str) -> float:
        f = fc[col].to_numpy(float)
        ok = np.isfinite(f)
        return float((np.abs(f - real) * w)[ok].sum() / w[ok].sum())

    row |= {"metric": "ROI", "n": int(len(fc)), "served": bt["model"]["wmae"],
            "coverage": bt["model"]["coverage"], "tree": bt["tree"]["wmae"],
            "tree_coverage": bt["tree"]["coverage"], "oracle": wmae("oracle"),
            "linear": wmae("linear"), "candidates": {m: wmae(m) for m in METHODS},
            "baselines": {k.removesuffix("_roi"): v["wmae"] for k, v in bt["baselines"].items()},
            "weights": bt["_blend"].weights}
    return row


def zoo_report(rows: list[dict[str, Any]], held_out: list[dict[str, Any]]) -> str:
    from demetra.ml.adapt import POWER
    from demetra.ml.train import BACKTEST_ORIGINS

    lines = [ZOO_SECTION, "",
             f"`python benchmarks/bench_ml.py --zoo` on {platform.machine()}, Python "
             f"{platform.python_version()}, {dt.date.today()}: every world of `demetra.zoo` "
             f"({ZOO_CAMPAIGNS} campaigns × {ZOO_DAYS} days, seeds "
             f"{', '.join(map(str, ZOO_SEEDS))}), the backtest `train` runs "
             f"({BACKTEST_ORIGINS} weekly origins, 7-day horizon; each origin sees only the "
             "days up to it, and is served as a trained model serves, by the blend weighed on "
             f"the {BACKTEST_ORIGINS} origins before it, run first for that). Ratios are to "
             "the best of the three baselines (trailing 7 days, trailing 28 days, the "
             "channel's trailing 28 days) on the same forecasts; `oracle` is the world's "
             "true expected value over the same days (the floor no forecast can pass). "
             "Served: the pooled trees, the account's linear regression on its recent "
             "history, its abnormal days read at "
             "its ordinary level (`demetra.ml.linear`), and the equal-weight ensemble of the "
             f"simple forecasts, weighed on the account's backtest halfway between "
             f"error^−{POWER:g} (each origin's error over its best candidate's, averaged "
             "geometrically) and the convex weights whose blend erred least there "
             "(`demetra.ml.adapt.blend_weights`); the lead-generation world (no revenue) "
             "is served per campaign on CPA (`demetra.ml.small`: the trailing 28 days, the "
             "simple ensemble and, where its backtest clearly favours it, the account's "
             "regression), against its trailing 28 days.", ""]
    lines += _zoo_table(rows, f"### Seeds {', '.join(map(str, ZOO_SEEDS))}")
    if held_out:
        lines += _zoo_table(held_out, f"### Held-out seeds {', '.join(map(str, ZOO_HELD_OUT))} "
                                      "(never looked at while the methods were built; 6-8 "
                                      "first run on 2026-12-07, 9-20 on 2026-12-08)")
    return "\n".join(lines + [ZOO_HISTORY])


ZOO_HISTORY = (
    "2026-12-03: the structural reference (ROI; for lead generation its results counterpart) "
    "joined the simple ensemble, for the small accounts' sake (see \"Forecasts on small "
    "accounts\"). Here it moved the means per world by at most 0.003: seeds 1-3 seeded 0.911 "
    "-> 0.910, drift 0.866 -> 0.866, fatigue 0.870 -> 0.871, promo 0.811 -> 0.808, leadgen "
    "0.869 -> 0.866; held out, leadgen 0.914 -> 0.917, fatigue 0.870 -> 0.869, the others "
    "unchanged. The interval leaves out the first origin's ratios (a blend with no backtest to "
    "weigh by) once two later ones exist: P10-P90 coverage of the promotions' seeds 1-5 went "
    "from 88, 83, 82, 84, 90 % to 83, 82, 76, 84, 89 % (pooled 85 -> 83 %), fatigue's from 86, "
    "82, 78, 82, 79 % to 86, 81, 78, 82, 78 %, the other worlds' by 2 points at most; the "
    "forecasts themselves are the same.\n\n"
    "2026-12-07: held-out seeds 6-8, run for the first time (the methods unchanged since "
    "seeds 4-5 were), with the lead-generation world's oracle beside it. Over seeds 4-8 the "
    "means are seeded 0.926, drift 0.890, fatigue 0.884, promo 0.813, leadgen 0.916 (0.886 "
    "over all): the seeded world's over the 0.92 it meets on seeds 1-3 (0.920 over all eight), "
    "and the mean over the 0.88. The worst, drift seed 8 (0.980) and fatigue seed 7 (0.966), "
    "are seeds where every candidate stays near the baseline (best simple forecast 0.988 and "
    "0.967); on seeds 4-8 the served forecast is never worse than the best simple one by "
    "more than 0.002 (on seeds 1-3, promotions seed 3 by 0.017). "
    "The oracle knows the world's expected outcome over the horizon, its state's future "
    "moves included, so where states drift and revert within days (drift 0.25-0.34, "
    "leadgen 0.48-0.71) it sits far under what any forecast from the past can reach. On "
    "lead generation seeds 1-3, in the account's own backtest of 12 origins, the regression "
    "alone scored 0.845, 0.863 and 0.913 of the trailing 28 days, the equal-weight ensemble "
    "0.935, 0.934 and 1.009, the best other method 0.915-0.939 (blend_7_56): the regression "
    "is what serves them.\n\n"
    "2026-12-08: each scored origin is served as a trained model serves, by the blend weighed "
    "on the 8 origins before it (`backtest(..., warmup=8)`: 8 older origins run first for "
    "their records only). Until then the oldest scored origin was served by equal weights and "
    "the next by one origin's, which no trained model is; the trees, the regression, the simple "
    "forecasts, the oracle and the weights that serve after the backtest are unchanged. Means "
    "over seeds 1-8, before -> after: seeded 0.920 -> 0.921, drift 0.881 -> 0.878, fatigue "
    "0.879 -> 0.873, promo 0.811 -> 0.777 (lead generation is backtested per campaign, each "
    "origin with its own backtest, and does not move); P10-P90 coverage, mean of the seeds, "
    "seeded 81 -> 81 %, drift 80 -> 81 %, fatigue 80 -> 80 %, promo 84 -> 86 %. The "
    "promotions' intervals are too wide once every week is weighed on eight: two ways to "
    "narrow them were measured on seeds 1-8 and dropped, ratios of leave-one-origin-out blends "
    "instead of the nested ones (86 %) and the week shock's width chosen by the coverage of each "
    "backtest week by the others (86 %; both together 86 %). The backtest's own weeks are "
    "covered at 80 % by construction and the weeks after them more often; promotions start no "
    "later than 9 days before a world's end, so its last weeks are calmer than the weeks their "
    "intervals learn from, which may explain part of it (not measured). Weights on all the "
    "origins before each "
    "one instead of the last 8: 0.922, 0.880, 0.874, 0.786, promo coverage 87 %."
    " Seeds 9-12, first run after the change, mean seeded 0.915, drift 0.877, fatigue "
    "0.835, promo 0.839, leadgen 0.926 (worst seed 10, 0.969); on promotions seed 12 the "
    "served forecast (0.920) is "
    "0.014 worse than the shrinkage alone (0.906), the trees weighing 74 %, and seed 11's"
    " coverage is 73 %.\n\n"
    "2026-12-08, later: seeds 13-16 run for the first time, the methods unchanged. Their "
    "means: seeded 0.894, drift 0.906, fatigue 0.823, promo 0.785, leadgen 0.913 (0.864 over "
    "all); P10-P90 coverage pooled per world 79-83 %; the worst seeds drift 13 (0.961), "
    "leadgen 14 (0.960) and seeded 13 (0.957). Measured and dropped: lead generation's "
    "candidates moved from the mean count of a week to the median a Poisson week brings "
    "(lambda - k results, k = 1/6, 1/3, 1/2; the regression, fitted to medians, left alone), "
    "since a cost per result judged by absolute error is best forecast at its median: "
    "seeds 1-12 mean 0.9071 -> 0.9070, 0.9071, 0.9072. The same shift on the trailing 28 "
    "days made it worse (seed 1: its spend-weighted error $46.2 -> $47.6 a result).\n\n"
    "2026-12-08, session 15: seeds 17-20 run for the first time, the methods unchanged, and "
    "pooled in the held-out table from now on. Their means: seeded 0.932 (over the 0.92: seeds "
    "17 and 19 at 0.967 and 0.949, where the oracle scores 0.885 and 0.904), drift 0.864, "
    "fatigue 0.838, promo 0.655, leadgen 0.901 (0.838 over all); P10-P90 coverage pooled per "
    "world 79-83 % (promo seeds 18 and 19 at 86 %).")


def _zoo_table(rows: list[dict[str, Any]], title: str) -> list[str]:
    lines = [title, "",
             "| world | seed | forecasts | served | trees alone | regression alone | "
             "best simple forecast | oracle | P10–P90 coverage (served / trees) | weights | "
             "seconds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    served_ratios: dict[str, list[float]] = {}
    covered: dict[str, list[float]] = {}  # world -> [forecasts inside P10-P90, forecasts]
    for r in rows:
        if r["coverage"] is not None:
            acc = covered.setdefault(r["world"], [0.0, 0.0])
            acc[0] += r["coverage"] * r["n"]
            acc[1] += r["n"]
        best = min(v for v in r["baselines"].values() if v is not None)
        ratio = r["served"] / best
        served_ratios.setdefault(r["world"], []).append(ratio)
        cands = r.get("candidates") or {}
        top = min(cands, key=cands.get) if cands else None
        weights = ", ".join(f"{k} {v:.0%}" for k, v in sorted(
            (r.get("weights") or {}).items(), key=lambda kv: -kv[1])[:3])
        cov = _f(r["coverage"], ".0%") + (f" / {_f(r['tree_coverage'], '.0%')}"
                                            if "tree_coverage" in r else "")
        lines.append(
            f"| {r['world']} ({r['metric']}) | {r['seed']} | {r['n']} | {ratio:.3f} | "
            f"{_f(r['tree'] / best if 'tree' in r else None, '.3f')} | "
            f"{_f(r['linear'] / best if 'linear' in r else None, '.3f')} | "
            + (f"{cands[top] / best:.3f} ({top})" if top else "—") + " | "
            f"{_f(r['oracle'] / best if 'oracle' in r else None, '.3f')} | {cov} | "
            f"{weights or '—'} | {r['seconds']:.1f} |")
    every = [x for v in served_ratios.values() for x in v]
    lines += ["", "Served ÷ best baseline, mean per world: " + ", ".join(
        f"{w} {np.mean(v):.3f} (worst {max(v):.3f})" for w, v in served_ratios.items())
        + f"; over all {np.mean(every):.3f}. Targets (issue 14): ≤ 0.92 on every world, "
        "≤ 0.88 on average.", "",
        "P10–P90 coverage of the served forecasts, pooled per world: " + ", ".join(
            f"{w} {c / n:.0%}" for w, (c, n) in covered.items() if n)
        + ". Target: 75–85 % on every world.", ""]
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg-url", help="loopback PostgreSQL server to create a schema in")
    p.add_argument("--no-pg", action="store_true", help="SQLite only")
    p.add_argument("--no-quality", action="store_true")
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    p.add_argument("--other-seeds", default="8,9",
                   help="comma-separated seeds of the same world size to report too ('' for none)")
    p.add_argument("--small", action="store_true",
                   help="only the small and lead-generation accounts (issue 13)")
    p.add_argument("--seeds", default=",".join(map(str, SMALL_SEEDS)),
                   help="with --small: comma-separated seeds the method was designed on")
    p.add_argument("--held-out", action="append",
                   help="with --small: comma-separated seeds reported in a table of their own "
                        f"(repeatable; default {','.join(map(str, SMALL_HELD_OUT))}; '' for none)")
    p.add_argument("--zoo", action="store_true",
                   help="only the forecasts across the worlds of demetra.zoo (issue 14)")
    p.add_argument("--no-held-out", dest="zoo_held_out", action="store_false",
                   help=f"with --zoo: skip the held-out seeds {ZOO_HELD_OUT}")
    args = p.parse_args()
    if args.zoo:
        from demetra.seed import WORLDS

        dbs = Databases(None, "bench-ml-zoo")
        try:
            groups: list[list[dict[str, Any]]] = []
            for seeds in (ZOO_SEEDS, ZOO_HELD_OUT if args.zoo_held_out else ()):
                groups.append([])
                for name in WORLDS:
                    for seed in seeds:
                        groups[-1].append(zoo_world(dbs, name, seed))
                        print({k: v for k, v in groups[-1][-1].items() if k != "candidates"},
                              flush=True)
        finally:
            dbs.close()
        text = zoo_report(*groups)
        print(text)
        if not args.no_write:
            write_section(ZOO_SECTION, text)
        return 0
    if args.small:
        dbs = Databases(None, "bench-ml-small")
        seeds = _seeds(args.seeds)
        groups = [g for g in map(_seeds, args.held_out or [",".join(map(str, SMALL_HELD_OUT))])
                  if g]
        try:
            text = small_report(small_accounts(dbs, seeds), seeds,
                                [(g, small_accounts(dbs, g)) for g in groups],
                                zoo_small_accounts(dbs, ZOO_SMALL_SEEDS), ZOO_SMALL_SEEDS)
        finally:
            dbs.close()
        print(text)
        if not args.no_write:
            write_section(SMALL_SECTION, text)
        return 0
    pg = None if args.no_pg else loopback_pg_url(args.pg_url)
    dbs = Databases(pg, "bench-ml")
    notes: list[str] = []
    try:
        q = None if args.no_quality else quality(dbs)
        others = {} if args.no_quality else {
            int(x): quality(dbs, int(x)) for x in args.other_seeds.split(",") if x.strip()}
        runs = []
        if not args.no_speed:
            for backend in ["sqlite"] + ([] if pg is None else ["postgresql"]):
                runs.append(speed(dbs, backend))
                print(runs[-1], flush=True)
    finally:
        dbs.close()
    text = report(q, runs, notes, others)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
