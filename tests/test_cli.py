"""``python -m demetra`` as a user runs it: real subprocesses against a real database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.imported import real_export

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, url: str | None = None, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if url:
        env["DATABASE_URL"] = url
    env.update(settings)
    return subprocess.run([sys.executable, "-m", "demetra", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_help_lists_the_commands() -> None:
    out = run("--help")
    assert out.returncode == 0
    for command in ("migrate", "seed", "truth", "serve"):
        assert command in out.stdout


def test_migrate_seed_truth_round_trip(db_url: str) -> None:
    assert run("migrate", url=db_url).returncode == 0
    seeded = run("seed", "--campaigns", "12", "--days", "30", "--seed", "9",
                 "--end-date", "2026-05-31", url=db_url)
    assert seeded.returncode == 0, seeded.stderr
    assert "Seeded" in seeded.stdout and "rows/s" in seeded.stdout
    truth = run("truth", url=db_url)
    data = json.loads(truth.stdout)
    assert set(data["channels"]["facebook"]) >= {"vmax", "half_saturation", "shape"}
    assert len(data["campaigns"]) == 12
    assert all(set(i) == {"campaign_id", "date", "kind"} for i in data["incidents"])
    eng = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg2://"))
    with eng.connect() as conn:
        ids = {r[0] for r in conn.execute(sa.text("SELECT DISTINCT campaign_id FROM campaigns"))}
    eng.dispose()
    assert ids == set(data["campaigns"])

    again = run("seed", "--campaigns", "5", url=db_url)
    assert again.returncode == 1
    assert "already holds" in again.stderr and "--replace" in again.stderr
    assert "Traceback" not in again.stderr


def test_failures_are_one_line_and_hide_the_password() -> None:
    out = run("migrate", url="postgresql://bob:hunter2@127.0.0.1:1/ads")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "127.0.0.1:1" in lines[0] and "hunter2" not in out.stderr
    bad = run("seed", "--campaigns", "0", url="sqlite:///:memory:")
    assert bad.returncode == 2 and "at least 1" in bad.stderr
    malformed = run("migrate", url="not a url")
    assert malformed.returncode == 2 and "DATABASE_URL" in malformed.stderr


def test_truth_on_an_unseeded_database_says_what_to_do(tmp_path) -> None:
    out = run("truth", url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert out.returncode != 0 and "python -m demetra seed" in out.stderr


def test_recommend_writes_a_stored_set_and_prints_it_as_json(db_url: str) -> None:
    assert run("seed", "--campaigns", "20", "--days", "60", "--end-date", "2026-05-31",
               url=db_url).returncode == 0
    out = run("recommend", "--days", "14", "--channel", "facebook", "--json", url=db_url)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["source"] == "rules" and "no LLM endpoint" in data["fallback_reason"]
    assert data["period"] == ["2026-05-18", "2026-05-31"]
    assert data["recommendations"] and data["summary"]
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT id, source, period_start FROM recommendations")).all()
    engine.dispose()
    assert [(r[0], r[1], str(r[2])[:10]) for r in stored] == [(data["id"], "rules", "2026-05-18")]
    text = run("recommend", url=db_url)
    assert text.returncode == 0 and "written by the rules engine" in text.stdout
    # Any channel id is a channel (the data may hold it); one without data is said so.
    absent = run("recommend", "--channel", "myspace", url=db_url)
    assert absent.returncode == 2 and "no campaign spent anything" in absent.stderr
    bad = run("recommend", "--channel", "My Space!", url=db_url)
    assert bad.returncode == 2 and "unknown channel 'My Space!'" in bad.stderr


def test_recommend_says_on_stderr_how_a_slow_model_goes(db_url: str) -> None:
    from tests.fake_llm import FakeLLM, Reply

    assert run("seed", "--campaigns", "10", "--days", "45", "--end-date", "2026-05-31",
               url=db_url).returncode == 0
    fake = FakeLLM().start()
    try:
        # Two unusable answers, written slowly: the attempt, its retry, then the rules engine.
        fake.replies += [Reply(content="not the JSON asked for " * 3, piece=4, chunk_delay=0.1)
                         for _ in range(2)]
        out = run("recommend", "--json", url=db_url, OPENAI_BASE_URL=fake.base_url,
                  OPENAI_API_KEY="sk-test", LLM_MODEL="fake", LLM_TIMEOUT="10")
    finally:
        fake.stop()
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["source"] == "rules"  # stdout stays the JSON alone
    lines = out.stderr.splitlines()
    assert lines[0].startswith("Asking the model: it is reading the facts"), lines
    assert any(re.match(r"Asking the model: \d+ tokens written in \d+ s", line) for line in lines)
    assert any(line.startswith("Retrying with the problems listed: ") for line in lines)
    # Not a pipe: a line a phase (and every 10 s), not one every 0.4 s report.
    assert len(lines) <= 8, lines


def test_recommend_progress_on_a_terminal_is_one_line_rewritten() -> None:
    import io

    from demetra.cli import _LLMProgress
    from demetra.llm import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    show = _LLMProgress(screen)
    for tokens in (0, 5, 12):
        show(Progress(1, "writing" if tokens else "waiting", tokens, 1.0, 300, 30))
    show.close()
    text = screen.getvalue()
    assert "\n" not in text and "12 tokens written" in text
    # Three reports over one another, then the line wiped for what the command prints next.
    *shown, wipe, end = text.split("\r")[1:]
    assert len(shown) == 3 and wipe == " " * len(shown[-1]) and end == ""


def test_budget_prints_the_recommended_split_and_its_json(db_url: str) -> None:
    assert run("seed", "--campaigns", "30", "--days", "60", "--end-date", "2026-05-31",
               url=db_url).returncode == 0
    out = run("budget", "--json", url=db_url)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        cost = dict(conn.execute(sa.text(
            "SELECT channel, SUM(cost) / 60 FROM campaigns GROUP BY channel")).all())
    engine.dispose()
    assert data["current"] == {ch: round(v, 2) for ch, v in cost.items()}
    assert sum(data["allocation"].values()) == pytest.approx(sum(cost.values()), abs=0.05)
    assert data["expected_roi"] == pytest.approx(data["expected_revenue"] / data["total"], rel=1e-3)
    assert data["expected_revenue"] > data["current_revenue"]
    bigger = json.loads(run("budget", "--total", "$25,000", "--json", url=db_url).stdout)
    assert sum(bigger["allocation"].values()) == pytest.approx(25_000, abs=0.05)
    text = run("budget", "--total", "25000", "--window", "30", url=db_url)
    assert text.returncode == 0 and "Daily budget $25,000.00 over the last 30 days" in text.stdout
    assert all(ch in text.stdout for ch in cost)
    bad = run("budget", "--total", "lots", url=db_url)
    assert bad.returncode == 2 and "not an amount: 'lots'" in bad.stderr


def test_budget_on_an_empty_database_says_why(tmp_path) -> None:
    out = run("budget", url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert out.returncode == 1 and "no spend in the window" in out.stderr


# -- accounts that do not track revenue (budget and recommend) ---------------------------------

LEAD_GEN_EXPORT = "08_meta_api_movexercise8_daily_ad_level.csv"
# A claim of a return: an ROI, a revenue figure, "returned", a loss, break-even.
REVENUE_CLAIM = re.compile(r"\bROI\b|\bROAS\b|revenue [$\d]|\$[\d,.]+ (?:of )?revenue|"
                           r"\breturned\b|stops a loss|break-even", re.I)


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return {str(k) for k in value} | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _no_revenue_keys(data: dict) -> None:
    found = {k for k in _keys(data) if "revenue" in k.lower() or "roi" in k.lower()}
    assert not found, found


def _recommend_text(data: dict) -> str:
    return " ".join([data["summary"], *(f"{r['rationale']} {r['expected_impact']} "
                                        f"{' '.join(r['metrics'])}"
                                        for r in data["recommendations"])])


def test_budget_and_recommend_on_a_lead_gen_account_speak_of_results(db_url: str,
                                                                    tmp_path) -> None:
    from tests.budget.leadgen import LEADS, account_frame

    for i, channel in enumerate(LEADS):
        path = tmp_path / f"{channel}.csv"
        account_frame(channel, seed=i).to_csv(path, index=False)
        out = run("import", "--platform", "generic", "--channel", channel,
                  "--map", "date=date", "--map", "campaign_name=campaign", "--map", "cost=spend",
                  "--map", "clicks=clicks", "--map", "impressions=impressions",
                  "--map", "conversions=conversions", str(path), url=db_url)
        assert out.returncode == 0, out.stderr
    out = run("budget", "--json", url=db_url)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["outcome"] == "results" and data["feasible"]
    assert data["expected_results"] > data["current_results"] > 0
    assert data["expected_cpa"] == pytest.approx(data["total"] / data["expected_results"],
                                                 rel=1e-2)
    assert set(data["marginal_cpa"]) == set(LEADS)
    _no_revenue_keys(data)
    text = run("budget", url=db_url)
    assert text.returncode == 0, text.stderr
    assert "split for the most results" in text.stdout and "marginal CPA" in text.stdout
    assert "Expected results" in text.stdout and "; CPA $" in text.stdout
    assert not REVENUE_CLAIM.search(text.stdout) and "$0.00" not in text.stdout
    rec = run("recommend", "--json", url=db_url)
    assert rec.returncode == 0, rec.stderr
    said = _recommend_text(json.loads(rec.stdout))
    assert "CPA" in said and not REVENUE_CLAIM.search(said), said


def test_the_real_lead_gen_export_gets_no_revenue_or_roi_claims(tmp_path) -> None:
    export = real_export(LEAD_GEN_EXPORT)
    url = f"sqlite:///{tmp_path / 'leads.db'}"
    imported = run("import", "--platform", "generic", "--channel", "facebook",
                   str(export), url=url)
    assert imported.returncode == 0, imported.stderr
    assert "spend stored 56,176.21" in imported.stdout
    out = run("budget", "--json", url=url)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["outcome"] == "results" and data["expected_cpa"] > 0
    _no_revenue_keys(data)
    # One channel: nothing to split across channels, said so; the split is among campaigns.
    assert list(data["allocation"]) == ["facebook"]
    assert "Only Facebook has a response curve, so there is no split to choose" in data["note"]
    assert data["campaigns"]["outcome"] == "results" and len(data["campaigns"]["allocation"]) >= 2
    text = run("budget", url=url)
    assert text.returncode == 0 and "Campaigns inside Facebook" in text.stdout
    assert not REVENUE_CLAIM.search(text.stdout) and "$0.00" not in text.stdout
    rec = run("recommend", "--json", url=url)
    assert rec.returncode == 0, rec.stderr
    said = _recommend_text(json.loads(rec.stdout))
    assert "CPA" in said and not REVENUE_CLAIM.search(said), said
    assert "$0.00" not in said


IMPORTS = Path(__file__).parent / "fixtures" / "imports"


def test_import_counts_and_reimport(db_url: str) -> None:
    meta = str(IMPORTS / "meta_platform.csv")
    dry = run("import", "--dry-run", meta, url=db_url)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Dry run, nothing written.") and "6 accepted" in dry.stdout
    # Hand-added from the fixture (tests/test_ingest.py).
    assert "spend 3,048.90, revenue 5,095.75, clicks 2,240, conversions 32.00" in dry.stdout
    first = run("import", meta, url=db_url)
    assert first.returncode == 0, first.stderr
    assert "6 rows inserted, 0 updated, 0 unchanged, 0 rejected, in " in first.stdout
    again = run("import", meta, url=db_url)
    assert "0 rows inserted, 0 updated, 6 unchanged" in again.stdout
    later = run("import", "--platform", "meta", str(IMPORTS / "meta_later.csv"), url=db_url)
    assert "1 row inserted, 1 updated, 1 unchanged" in later.stdout
    eng = sa.create_engine(db_url)
    with eng.connect() as conn:
        rows, cost = conn.execute(sa.text("SELECT COUNT(*), SUM(cost) FROM campaigns")).one()
    eng.dispose()
    assert rows == 7 and cost == pytest.approx(3048.90 - 1100.00 + 1150.00 + 900.00)


def test_import_dry_run_writes_nothing_and_generic_uses_the_suggested_mapping(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    assert run("import", "--dry-run", str(IMPORTS / "meta_platform.csv"), url=url).returncode == 0
    assert not (tmp_path / "d.db").exists()  # a dry run never opens the database
    generic = str(IMPORTS / "generic.csv")
    ok = run("import", "--platform", "generic", generic, url=url)
    assert ok.returncode == 0, ok.stderr
    assert "4 rows inserted" in ok.stdout
    assert "warning" not in ok.stderr
    rejects = tmp_path / "bad.csv"
    rejects.write_text("Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n"
                       "A,2026-09-01,10,100,5\nB,2026-09-02,-1,100,5\n")
    # Without the user's yes, a file with rejected rows is refused and nothing is stored.
    refused = run("import", str(rejects), url=url)
    assert refused.returncode == 2 and refused.stdout == "", refused.stdout
    assert refused.stderr.startswith("error: 1 rejected row carries spend that cannot be counted")
    assert "--allow-rejects" in refused.stderr and "row 3" in refused.stderr
    out = run("import", "--allow-rejects", str(rejects), url=url)
    assert out.returncode == 0 and "1 row inserted" in out.stdout and "1 rejected" in out.stdout
    assert "rejected row 3, column 'Amount spent (USD)': negative spend" in out.stderr
    assert out.stdout.strip().endswith("spend stored 10.00 of 10.00 in the file")


def test_import_bad_input_is_one_line(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    cases = {
        "empty.csv": (b"", "is empty"),
        "chart.csv": (b"\x89PNG\r\n\x1a\n" + bytes(100), "PNG image"),
        "foo.csv": (b"foo,bar\n1,2\n", "matches no known export"),
    }
    for name, (data, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        out = run("import", str(path), url=url)
        assert out.returncode == 2, (name, out.stdout)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and reason in lines[0]
    missing = run("import", str(tmp_path / "nope.csv"), url=url)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    bad_channel = run("import", "--channel", "My Space!", str(IMPORTS / "generic.csv"), url=url)
    assert bad_channel.returncode == 2 and "unknown channel 'My Space!'" in bad_channel.stderr
    assert "lowercase letters, digits and underscores" in bad_channel.stderr


def test_a_refusal_is_one_line_and_a_bug_keeps_its_traceback(monkeypatch, capsys) -> None:
    from demetra import cli
    from demetra.errors import SeedRefused, SettingsError

    monkeypatch.setattr(cli, "cmd_migrate", lambda args: (_ for _ in ()).throw(
        SeedRefused("the database already holds 10 rows")))
    assert cli.main(["migrate"]) == 1
    assert capsys.readouterr().err == "error: the database already holds 10 rows\n"
    monkeypatch.setattr(cli, "cmd_migrate", lambda args: (_ for _ in ()).throw(
        SettingsError("LLM_TIMEOUT must be a number")))
    assert cli.main(["migrate"]) == 2
    # A plain ValueError is a bug, not a refusal: it is not turned into "error: …".
    monkeypatch.setattr(cli, "cmd_migrate", lambda args: (_ for _ in ()).throw(
        ValueError("unpacking went wrong")))
    with pytest.raises(ValueError, match="unpacking went wrong"):
        cli.main(["migrate"])


def test_database_url_flag_reaches_the_settings(monkeypatch) -> None:
    from demetra import cli

    monkeypatch.setenv("DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("LLM_MODEL", "from-env")
    args = cli.build_parser().parse_args(["--database-url", "sqlite:///flag.db", "train"])
    settings = cli._settings(args)
    assert settings.database_url == "sqlite:///flag.db" and settings.llm_model == "from-env"
    args = cli.build_parser().parse_args(["train"])
    assert cli._settings(args).database_url == "sqlite:///from-env.db"


def test_charts_renders_saves_and_writes_pngs(seeded_engine: sa.Engine, db_url: str,
                                              tmp_path) -> None:
    out = run("charts", "--type", "conversion_analysis", "--type", "forecast", "--days", "14",
              "--channel", "facebook", "--out", str(tmp_path), url=db_url)
    # The forecast needs predictions first: said, skipped, the other chart still saved.
    assert out.returncode == 0, out.stderr
    assert "forecast: skipped: no forecasts yet" in out.stderr
    with seeded_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, dashboard_type, title FROM ml_dashboards")).all()
    assert [(r[1]) for r in rows] == ["conversion_analysis"]
    assert "Facebook" in rows[0][2] and f"saved chart {rows[0][0]}" in out.stdout
    written = tmp_path / f"conversion_analysis-{rows[0][0]}.png"
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = run("charts", "--type", "pie", url=db_url)
    assert bad.returncode == 2 and "unknown chart type 'pie'" in bad.stderr
