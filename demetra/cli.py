"""``python -m demetra`` (or the ``demetra`` console script): the command line.

A thin layer over the library: each command builds the settings (``--database-url`` over the
environment), opens the database (migrating it first), calls one function of the package and
prints what it did and how long it took. A refusal (``DemetraError``) is one line on stderr
and a non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from demetra import format as fmt
from demetra.channels import KNOWN_CHANNELS, channel_choice, channel_label, unknown_channel
from demetra.config import Settings, load_settings
from demetra.db.engine import make_engine, safe_url
from demetra.errors import DemetraError, NotEnoughData

if TYPE_CHECKING:
    from demetra.llm import Progress

ROOT = Path(__file__).resolve().parents[1]


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(overrides={"database_url": args.database_url})


def _engine(args: argparse.Namespace):
    return make_engine(_settings(args).database_url)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _channel(text: str) -> str:
    channel = channel_choice(text)
    if channel is None:
        raise argparse.ArgumentTypeError(unknown_channel(text))
    return channel


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def cmd_migrate(args: argparse.Namespace) -> int:
    from demetra.db.engine import current_revision

    t0 = time.perf_counter()
    engine = _engine(args)
    print(f"Database {safe_url(engine.url)} is at revision {current_revision(engine)} "
          f"({time.perf_counter() - t0:.2f} s)")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from demetra.errors import BadInput
    from demetra.seed import seed_database

    channels: int | list[str] | None = None
    if args.channels:
        text = args.channels.strip()
        if text.isdigit():
            channels = int(text)
        else:
            channels = []
            for part in filter(None, (p.strip() for p in text.split(","))):
                channel = channel_choice(part)
                if channel is None:
                    raise BadInput(unknown_channel(part))
                channels.append(channel)
    engine = _engine(args)
    report = seed_database(engine, campaigns=args.campaigns, days=args.days, seed=args.seed,
                           end_date=args.end_date, replace=args.replace, outcome=args.outcome,
                           small=args.small, channels=channels, pauses=args.pauses,
                           world=args.world)
    kind = ("a lead-generation account (results, revenue not tracked)"
            if report.outcome == "results" else "revenue tracked")
    pauses = f", {report.pauses} pauses (days without rows)" if report.pauses else ""
    print(f"Seeded {report.rows:,} rows: {report.campaigns} campaigns on {report.channels} "
          f"channel{'s' if report.channels != 1 else ''}, {kind}, {report.start} to "
          f"{report.end}, {report.incidents} injected incidents{pauses}, in "
          f"{report.seconds:.1f} s ({report.rows / max(report.seconds, 1e-9):,.0f} rows/s) "
          f"into {safe_url(engine.url)}")
    return 0


def cmd_truth(args: argparse.Namespace) -> int:
    from demetra.seed import load_truth

    truth = load_truth(_engine(args))
    if truth is None:
        raise NotEnoughData("this database holds no seeded world; run `python -m demetra seed`")
    print(json.dumps(truth, indent=2))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from demetra import ingest

    t0 = time.perf_counter()
    options = {"platform": args.platform, "channel": args.channel, "campaign": args.campaign,
               "mapping": dict(args.map) if args.map else None}
    if args.dry_run:
        preview = ingest.preview(args.file, **options)
        print(f"Dry run, nothing written. {preview.summary()} ({time.perf_counter() - t0:.1f} s)")
    else:
        import sqlalchemy as sa

        try:
            result = ingest.import_file(
                _engine(args), args.file, allow_rejects=args.allow_rejects,
                exchange_rate=args.exchange_rate,
                reporting_currency=_settings(args).reporting_currency or None, **options)
        except sa.exc.SQLAlchemyError as exc:
            # The type only: the driver's message carries SQL and values, not what to do.
            print(f"error: writing to the database failed ({type(exc).__name__}); the "
                  "transaction was rolled back, nothing was imported", file=sys.stderr)
            return 1
        preview = result.preview
        print(result.summary())
    for warning in preview.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for r in preview.rejects.head(20).itertuples():
        print(f"rejected row {r.row}, column {r.column!r}: {r.reason}", file=sys.stderr)
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from demetra.alerts import run_detection

    engine = _engine(args)
    report = run_detection(engine, since=args.since, until=args.until,
                           settings=_settings(args))
    if report.error:
        print(f"error: {report.summary()} (a system alert was left for the Alerts page)",
              file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from demetra.ml import train

    result = train(_engine(args), _settings(args))
    print(result.summary())
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from demetra.ml import predict

    result = predict(_engine(args), _settings(args))
    print(result.summary())
    return 0


class _LLMProgress:
    """How the LLM call goes, on stderr (stdout keeps the answer, JSON with ``--json``): on a
    terminal one line rewritten in place; in a log or a pipe, a line when the phase changes
    (reading the facts, writing, checking, the retry) and every ``EVERY`` seconds between."""

    EVERY = 10.0

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.step: tuple[int, str] | None = None
        self.at = 0.0
        self.width = 0

    def __call__(self, p: Progress) -> None:
        text = p.describe()
        if self.tty:
            self.stream.write("\r" + text.ljust(self.width))
            self.width = len(text)
            self.stream.flush()
            return
        if p.phase == "writing" and not p.tokens:
            return  # the stream has opened, no text yet: "0 tokens written" tells nothing
        now = time.monotonic()
        if (p.attempt, p.phase) != self.step or now - self.at >= self.EVERY:
            print(text, file=self.stream, flush=True)
            self.step, self.at = (p.attempt, p.phase), now

    def close(self) -> None:
        """Wipe the terminal's line: what the call came to is printed next."""
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def cmd_recommend(args: argparse.Namespace) -> int:
    from demetra import llm

    engine = _engine(args)
    settings = _settings(args)
    f = _period(args, engine)
    progress = _LLMProgress()
    try:
        out = llm.generate(engine, f, settings, progress=progress)
    finally:
        progress.close()
    if args.json:
        print(json.dumps({"id": out.id, "source": out.source, "model": out.model,
                          "fallback_reason": out.fallback_reason, "period": [str(f.start),
                                                                             str(f.end)],
                          **out.answer}, indent=2))
        return 0
    who = (f"the LLM ({out.model}, {out.prompt_tokens} + {out.completion_tokens} tokens)"
           if out.source == "llm" else f"the rules engine: {out.fallback_reason}")
    print(f"Recommendations for {f.start} to {f.end}, written by {who}:\n")
    print(out.answer["summary"] + "\n")
    labels = out.context.labels
    for i, r in enumerate(out.answer["recommendations"], 1):
        target = r["target"]
        # People read names: a campaign by its name (with its id only where two share it), a
        # channel as it is called.
        shown = (labels[target] if target in labels
                 else channel_label(target) if target in out.context.channels else target)
        print(f"{i}. {r['action'].upper()} {shown} ({r['confidence']} confidence)")
        print(f"   Why: {r['rationale']}")
        print(f"   Impact: {r['expected_impact']}")
    print(f"\nStored as set {out.id} in {out.seconds:.1f} s")
    return 0


def _field_column(text: str) -> tuple[str, str | None]:
    """FIELD=COLUMN for --map (FIELD= leaves the field unmapped)."""
    from demetra.ingest.platforms import FIELDS

    field, sep, column = text.partition("=")
    field = field.strip()
    if not sep or field not in FIELDS:
        raise argparse.ArgumentTypeError(
            f"expected FIELD=COLUMN with FIELD one of {', '.join(FIELDS)}, got {text!r}")
    return field, column.strip() or None


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _money(text: str) -> float:
    try:
        value = float(text.replace(",", "").lstrip("$"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a non-negative amount, got {text!r}")
    return value


def cmd_budget(args: argparse.Namespace) -> int:
    from demetra.budget import recommend
    from demetra.queries import reporting_currency

    t0 = time.perf_counter()
    engine = _engine(args)
    result = recommend(engine, total=args.total, window_days=args.window)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0 if result.feasible else 1
    if not result.feasible:
        print(f"error: {result.message}", file=sys.stderr)
        return 1
    cur = reporting_currency(engine)
    on = ("revenue" if result.outcome == "revenue"
          else "results (revenue not tracked: read with cost per result)")
    print(f"Daily budget {_budget_money(result.total, cur)} over the last {args.window} days' "
          f"curves, split for the most {on}:\n")
    _print_split(result, cur, "channel")
    print()
    print(_budget_outcome_line(result, cur))
    if result.note:
        print(result.note)
    if result.campaigns is not None:
        names = result.campaigns.labels
        print(f"\nCampaigns inside {channel_label(next(iter(result.allocation)))}:\n")
        _print_split(result.campaigns, cur, "campaign", names)
        print()
        print(_budget_outcome_line(result.campaigns, cur))
        for cid, why in result.campaigns.skipped.items():
            print(f"Skipped campaign {names.get(cid, cid)}: {why}")
    for ch, why in result.skipped.items():
        print(f"Skipped {ch}: {why}")
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


def _budget_money(value: float | None, currency: str) -> str:
    return fmt.money(value, currency, decimals=2)


def _print_split(result, currency: str, what: str, names: dict[str, str] | None = None) -> None:
    """The split's table: current and recommended spend a day, the change, the margin (ROI of
    one more dollar, or the cost of one more result)."""
    results = result.outcome == "results"
    margin = result.marginal_cpa if results else result.marginal_roi
    head = "marginal CPA" if results else "marginal ROI"
    labels = {k: (names or {}).get(k, k) for k in result.allocation}
    width = max([12, *(len(v) for v in labels.values())]) if what == "campaign" else 12
    width = min(width, 40)
    print(f"{what:<{width}} {'current':>12} {'recommended':>12} {'change':>8} {head:>13}")
    for key, spend in result.allocation.items():
        now = result.current[key]
        change = f"{spend / now - 1:+.0%}" if now > 0 else "new"
        m = margin.get(key)
        m_text = "—" if m is None else f"{m:,.2f}"
        print(f"{labels[key][:width]:<{width}} {now:>12,.2f} {spend:>12,.2f} {change:>8} "
              f"{m_text:>13}")


def _budget_outcome_line(result, currency: str) -> str:
    money = functools.partial(_budget_money, currency=currency)
    if result.outcome == "results":
        def n(v: float) -> str:
            return f"{v:,.1f}"

        return (f"Expected results {n(result.expected_results)}/day (80% band "
                f"{n(result.results_low)}–{n(result.results_high)}) vs "
                f"{n(result.current_results)} at the current split; CPA "
                f"{money(result.expected_cpa)} vs {money(result.current_cpa)}")
    roi_now = f"{result.current_roi:.2f}" if result.current_roi is not None else "n/a"
    roi_new = f"{result.expected_roi:.2f}" if result.expected_roi is not None else "n/a"
    return (f"Expected revenue {money(result.expected_revenue)}/day (80% band "
            f"{money(result.revenue_low)}–{money(result.revenue_high)}) vs "
            f"{money(result.current_revenue)} at the current split; ROI {roi_new} vs {roi_now}")


def cmd_worker(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from demetra.worker import run_cycle, run_forever

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter on every start
    # The HTTP clients log each request's URL at INFO, and a base URL may carry a password.
    for name in ("httpx", "httpx2", "httpcore", "httpcore2", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)
    engine = _engine(args)
    settings = _settings(args)
    if args.once:
        results = run_cycle(engine, settings)
        return 0 if all(r.ok for r in results) else 1
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()  # no logging here: a signal handler must not take the logging lock

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    run_forever(engine, settings, args.interval, stop)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from demetra.demo import load_demo
    from demetra.seed import campaign_row_count

    engine = _engine(args)
    if args.demo and campaign_row_count(engine) == 0:
        report = load_demo(engine, _settings(args))
        print(f"Loaded the demo world in {report.seconds:.1f} s:")
        for line in report.lines():
            print(f"  {line}")
    engine.dispose()
    env = dict(os.environ)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
           "--server.port", str(args.port), "--server.address", args.address]
    print(f"Demetra on http://{args.address}:{args.port} (database {safe_url(engine.url)})")
    return subprocess.call(cmd, cwd=ROOT, env=env)


def _period(args: argparse.Namespace, engine):
    """The period of --days / --since / --until (default: the last --days days of data) and
    the --channel filter."""
    from demetra import llm
    from demetra.queries import Filters

    f = llm.default_period(engine, args.days)
    if args.until or args.since:
        until = args.until or f.end
        f = Filters(args.since or until - dt.timedelta(days=args.days - 1), until)
    return Filters(f.start, f.end, tuple(args.channel or ()))


def cmd_charts(args: argparse.Namespace) -> int:
    from demetra.charts import gallery
    from demetra.charts.png import CHART_TYPES, render
    from demetra.errors import BadInput

    engine = _engine(args)
    f = _period(args, engine)
    kinds = args.type or list(CHART_TYPES)
    unknown = [k for k in kinds if k not in CHART_TYPES]
    if unknown:
        raise BadInput(f"unknown chart type {unknown[0]!r}: choose one of {', '.join(CHART_TYPES)}")
    saved, skipped = 0, 0
    for kind in kinds:
        t0 = time.perf_counter()
        try:
            chart = render(engine, kind, f)
        except NotEnoughData as exc:
            print(f"{kind}: skipped: {exc}", file=sys.stderr)
            skipped += 1
            continue
        chart_id = gallery.save_chart(engine, chart)
        saved += 1
        where = ""
        if args.out:
            path = Path(args.out) / f"{kind}-{chart_id}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(chart.png)
            where = f", written to {path}"
        print(f"{kind}: saved chart {chart_id} “{chart.title}” ({len(chart.png) / 1024:,.0f} KB, "
              f"{time.perf_counter() - t0:.2f} s{where})")
    return 0 if saved or not skipped else 1


def cmd_report(args: argparse.Namespace) -> int:
    from demetra.report import build_report

    t0 = time.perf_counter()
    engine = _engine(args)
    f = _period(args, engine)
    pdf = build_report(engine, f)
    out = Path(args.out or f"demetra-report-{f.start}-{f.end}.pdf")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    print(f"Wrote {out} ({len(pdf) / 1024:,.0f} KB) for {f.start} to {f.end} in "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    from demetra.api import serve

    settings = _settings(args)
    print(f"Demetra API on http://{args.host}:{args.port} (OpenAPI at /openapi.json, docs at "
          f"/docs; database {safe_url(settings.database_url)}; "
          f"{'bearer token required' if settings.api_token else 'no token: loopback only'})")
    serve(args.host, args.port, settings, workers=args.workers)
    return 0


def _period_arguments(p: argparse.ArgumentParser) -> None:
    """--days, --since, --until and --channel: the period and channels ``_period`` reads."""
    p.add_argument("--days", type=_positive, default=30, help="length of the period (30)")
    p.add_argument("--since", type=_date, default=None, help="first day (default: --days back)")
    p.add_argument("--until", type=_date, default=None, help="last day (default: newest data)")
    p.add_argument("--channel", action="append", type=_channel,
                   help="only this channel (repeatable; default: all)")


def build_parser() -> argparse.ArgumentParser:
    from demetra import seed
    from demetra.ingest.platforms import PLATFORM_CHOICES

    parser = argparse.ArgumentParser(
        prog="python -m demetra",
        description="Demetra: AI analytics for paid advertising. Every command first brings "
                    "the database (DATABASE_URL, default sqlite:///data/demetra.db) to the "
                    "latest schema.")
    parser.add_argument("--database-url", help="override DATABASE_URL for this command")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("migrate", help="create or upgrade the schema to the latest revision")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("seed", help="load the demo world (campaigns with known ground truth)")
    p.add_argument("--campaigns", type=_positive, default=None,
                   help=f"number of campaigns ({seed.DEFAULT_CAMPAIGNS}; 3-8 with --small)")
    p.add_argument("--days", type=_positive, default=seed.DEFAULT_DAYS,
                   help=f"days of history ({seed.DEFAULT_DAYS})")
    p.add_argument("--seed", type=int, default=seed.DEFAULT_SEED,
                   help=f"random seed: same seed, same data ({seed.DEFAULT_SEED})")
    p.add_argument("--end-date", type=_date, default=None, help="last day (default: today)")
    p.add_argument("--replace", action="store_true",
                   help="delete existing campaign data (and what was derived from it) first")
    p.add_argument("--outcome", choices=seed.OUTCOMES, default="revenue",
                   help="revenue (every conversion has a value) or results: a lead-generation "
                        "account, revenue not tracked, results with a known CPA curve (revenue)")
    p.add_argument("--small", action="store_true",
                   help="a small account: 3-8 campaigns of one advertiser, one or two channels, "
                        "paused and restarted campaigns")
    p.add_argument("--channels", default=None, metavar="N|NAMES",
                   help="how many channels, or which (comma-separated, e.g. facebook,google_ads)"
                        " (all six; one or two with --small)")
    p.add_argument("--pauses", action=argparse.BooleanOptionalAction, default=None,
                   help="pause campaigns for days to weeks, then restart them; paused days have "
                        "no row (default: with --small)")
    p.add_argument("--world", choices=seed.WORLDS, default="seeded",
                   help="seeded (the demo world) or a world of another structure, for judging "
                        "the forecasts and alerts: drift (drifting campaign states, budget "
                        "steps, saturation), fatigue (creative fatigue, launches, pauses), "
                        "promo (promotions and holidays) or leadgen (results only, drifting)")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("truth", help="print the seeded world's ground truth as JSON")
    p.set_defaults(func=cmd_truth)

    p = sub.add_parser("import", help="import an ad-platform export (Meta, Google Ads, TikTok, "
                                      "LinkedIn, Fivetran ad_reporting; CSV or XLSX): one "
                                      "transaction, re-import safe")
    p.add_argument("file", help="the exported CSV/TSV/XLSX file")
    p.add_argument("--platform", default="auto",
                   choices=PLATFORM_CHOICES,
                   help="whose export it is (auto: recognised from the header)")
    p.add_argument("--channel", default=None,
                   help="channel of rows the file does not give one for: a known channel ("
                        + ", ".join(KNOWN_CHANNELS) + ") or any channel id (lowercase letters, "
                        "digits, underscores)")
    p.add_argument("--map", action="append", type=_field_column, metavar="FIELD=COLUMN",
                   help="read FIELD from the file's COLUMN, over the suggested mapping "
                        "(repeatable; FIELD= leaves a field out); implies the generic import")
    p.add_argument("--campaign", default=None, metavar="NAME",
                   help="the campaign of every row, for a file of one campaign without a "
                        "campaign column")
    p.add_argument("--exchange-rate", type=_rate, default=None, metavar="RATE",
                   help="for a file in another currency than the database's: how many units of "
                        "the database's currency one unit of the file's is worth (stored with "
                        "the import)")
    p.add_argument("--allow-rejects", action="store_true",
                   help="import the good rows even when some are rejected (they are listed "
                        "with the spend they carry); without it such a file is refused")
    p.add_argument("--dry-run", action="store_true",
                   help="read and check the file, print what would be imported, write nothing")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("alerts", help="detect ROI drops, cost spikes, conversion drops, anomalies")
    p.add_argument("--since", type=_date, default=None,
                   help="first day to check (default: the last 7 days of data)")
    p.add_argument("--until", type=_date, default=None, help="last day to check (default: newest)")
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("train", help="train the ROI model (with a rolling-origin backtest)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict",
                       help="forecast ROI and risk for campaigns that spent in the last 7 days")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("recommend", help="write budget and campaign recommendations (LLM, or the "
                                         "rules engine when no endpoint answers usefully)")
    _period_arguments(p)
    p.add_argument("--json", action="store_true", help="print the stored set as JSON")
    p.set_defaults(func=cmd_recommend)

    p = sub.add_parser("budget", help="the split of a daily budget over channels that the fitted "
                                      "response curves expect to earn the most (revenue, or "
                                      "results where revenue is not tracked)")
    p.add_argument("--total", type=_money, default=None, metavar="DAILY_SPEND",
                   help="daily budget to split (default: current average daily spend)")
    p.add_argument("--window", type=_positive, default=90, metavar="DAYS",
                   help="days of history the curves are fitted on (90)")
    p.add_argument("--json", action="store_true",
                   help='print {"outcome", "allocation", "current", "expected_revenue", '
                        '"expected_roi", ...} (a results split: "expected_results", '
                        '"expected_cpa", "marginal_cpa", ... and no revenue)')
    p.set_defaults(func=cmd_budget)

    p = sub.add_parser("worker", help="every hour: predictions (training when needed) and alerts; "
                                      "daily: recommendations")
    p.add_argument("--interval", type=_positive, default=3600,
                   help="seconds between cycles (3600)")
    p.add_argument("--once", action="store_true", help="run one cycle and exit")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("serve", help="start the web app (streamlit run)")
    p.add_argument("--demo", action="store_true",
                   help="if the database is empty: load the demo world, train, predict, detect "
                        "alerts and write recommendations")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("charts", help="render presentation charts (PNG) for a period and save "
                                      "them in the database")
    # Checked when it runs: importing the chart types here would load plotly for every command.
    p.add_argument("--type", action="append", metavar="TYPE",
                   help="roi_analysis, conversion_analysis, spend_efficiency, forecast or "
                        "alerts_timeline (repeatable; default: every type)")
    _period_arguments(p)
    p.add_argument("--out", help="also write the PNG files to this folder")
    p.set_defaults(func=cmd_charts)

    p = sub.add_parser("report", help="write the stakeholder report (PDF) for a period")
    p.add_argument("--out", help="the PDF file (default: demetra-report-START-END.pdf)")
    _period_arguments(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("api", help="serve the JSON API (FastAPI; /openapi.json, /docs)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (another than loopback needs API_TOKEN)")
    p.add_argument("--port", type=_positive, default=8000)
    p.add_argument("--workers", type=_positive, default=1,
                   help="server processes (1; more serve concurrent clients on more cores)")
    p.set_defaults(func=cmd_api)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DemetraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
