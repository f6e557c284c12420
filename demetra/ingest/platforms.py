"""The exports Demetra recognises: which header names each ad platform writes for the campaign
fields of DESIGN.md, how a file is matched to a platform, and the generic column mapper.

Header names are compared normalised: case-folded, whitespace collapsed, a BOM dropped and a
trailing currency code removed ("Amount spent (USD)" -> "amount spent", currency USD), so
"Campaign Name" (LinkedIn) and "Campaign name" (Meta) are the same name. The names come from
the platforms' exports as documented in Meta's column glossary, Google Ads' report downloads,
TikTok Ads Manager's custom reports, LinkedIn Campaign Manager's CSV export and the unified
tables of Fivetran's ad_reporting dbt package; localised (translated) headers are left to the
generic mapper.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# What a channel cell may say and the channel it names (a known one, else its slug) live with
# the channels (demetra.channels).
from demetra.channels import CHANNEL_ALIASES as CHANNEL_ALIASES
from demetra.channels import channel_of as channel_of

# The campaign fields a row can carry (DESIGN.md, campaigns table), in the order forms show them.
FIELDS: tuple[str, ...] = ("date", "campaign_name", "campaign_id", "channel", "cost",
                           "impressions", "clicks", "conversions", "revenue", "engagement")
FIELD_LABELS: dict[str, str] = {
    "date": "Date", "campaign_name": "Campaign name", "campaign_id": "Campaign ID",
    "channel": "Channel", "cost": "Spend", "impressions": "Impressions", "clicks": "Clicks",
    "conversions": "Conversions", "revenue": "Revenue (conversion value)",
    "engagement": "Engagement",
}
# A row needs these; the campaign is named by campaign_name or campaign_id (either will do).
REQUIRED: tuple[str, ...] = ("date", "cost", "impressions", "clicks")
CAMPAIGN_FIELDS: tuple[str, ...] = ("campaign_name", "campaign_id")

_CURRENCY = re.compile(r"\s*\(([A-Z]{3})\)\s*$")


def normalize_header(text: object) -> tuple[str, str | None]:
    """("amount spent", "USD") for "Amount spent (USD)"; currency None when there is none."""
    raw = str(text if text is not None else "").replace("\ufeff", "").strip()
    match = _CURRENCY.search(raw)
    currency = match.group(1) if match else None
    if match:
        raw = raw[:match.start()]
    return " ".join(raw.casefold().split()), currency


@dataclass(frozen=True)
class Platform:
    key: str
    label: str
    # field -> accepted (normalised) header names, most specific first
    columns: dict[str, tuple[str, ...]]
    # header names only this platform writes: they decide which platform a file comes from
    markers: tuple[str, ...]
    default_channel: str | None  # the channel of rows that do not say one
    # extra columns a platform's rows are checked or routed with
    extras: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The channels one of its campaigns is stored on: split over them by a breakdown column
    # (Meta's Platform), or routed to one of them (Google's Campaign type).
    family: tuple[str, ...] = ()
    breakdown: bool = False


META = Platform(
    "meta", "Meta Ads Manager (Facebook, Instagram)",
    {
        # "Day" when broken down by day; otherwise a row covers Reporting starts..ends.
        "date": ("day", "date", "reporting starts"),
        "campaign_name": ("campaign name",),
        "campaign_id": ("campaign id",),
        "channel": ("platform",),
        "cost": ("amount spent",),
        "impressions": ("impressions",),
        "clicks": ("link clicks", "clicks (all)"),
        "conversions": ("purchases", "website purchases", "results"),
        "revenue": ("purchases conversion value", "website purchases conversion value",
                    "conversion value"),
        "engagement": ("post engagement", "post engagements"),
    },
    ("amount spent", "reporting starts", "reporting ends", "link clicks", "clicks (all)",
     "purchases conversion value", "result indicator", "cost per results",
     "purchase roas (return on ad spend)", "ad set name", "campaign delivery",
     "attribution setting"),
    "facebook",
    # What a "Results" cell counts: a result type of link clicks or reach is not a conversion.
    {"date_end": ("reporting ends",), "result_type": ("result type", "result indicator")},
    family=("facebook", "instagram"),
    breakdown=True,
)

GOOGLE_ADS = Platform(
    "google_ads", "Google Ads",
    {
        "date": ("day", "date"),
        "campaign_name": ("campaign",),
        "campaign_id": ("campaign id",),
        "cost": ("cost",),
        "impressions": ("impr.", "impressions"),
        "clicks": ("clicks",),
        "conversions": ("conversions", "all conv."),
        "revenue": ("conv. value", "total conv. value", "conversion value", "all conv. value"),
        "engagement": ("engagements",),
    },
    ("impr.", "conv. value", "cost / conv.", "avg. cpc", "currency code", "campaign status",
     "conv. rate", "interaction rate", "all conv."),
    "google_ads",
    # Video campaigns run on YouTube.
    {"campaign_type": ("campaign type", "advertising channel type"),
     "currency": ("currency code", "currency")},
    family=("google_ads", "youtube"),
)

TIKTOK = Platform(
    "tiktok", "TikTok Ads Manager",
    {
        "date": ("by day", "date", "stat time day", "day"),
        "campaign_name": ("campaign name",),
        "campaign_id": ("campaign id",),
        "cost": ("cost", "spend", "total cost"),
        "impressions": ("impressions",),
        "clicks": ("clicks (destination)", "clicks", "clicks (all)"),
        "conversions": ("conversions", "complete payment", "results"),
        "revenue": ("total complete payment value", "complete payment value",
                    "total purchase value"),
        "engagement": ("engagements", "paid engagement"),
    },
    ("clicks (destination)", "ctr (destination)", "cpc (destination)", "by day",
     "ad group name", "total complete payment value", "complete payment",
     "conversion rate (cvr)", "cost per conversion", "cpm", "video views at 100%"),
    "tiktok",
    {"currency": ("currency",)},
)

LINKEDIN = Platform(
    "linkedin", "LinkedIn Campaign Manager",
    {
        "date": ("start date (in utc)", "start date", "date", "day"),
        "campaign_name": ("campaign name", "campaign"),
        "campaign_id": ("campaign id",),
        "cost": ("total spent", "amount spent", "spend"),
        "impressions": ("impressions",),
        "clicks": ("clicks",),
        "conversions": ("conversions", "total conversions"),
        "revenue": ("conversion value", "total conversion value"),
        "engagement": ("total engagements", "engagements"),
    },
    ("total spent", "start date (in utc)", "end date (in utc)", "campaign group name",
     "clicks to landing page", "campaign objective", "post-click conversions",
     "view-through conversions", "leads", "account name", "average cpm", "average cpc"),
    "linkedin",
    {"date_end": ("end date (in utc)", "end date"), "currency": ("currency",)},
)

# The unified tables of Fivetran's ad_reporting dbt package (ad_reporting__ad_report,
# __campaign_report, __ad_group_report, …), as a warehouse query or a CSV download of one: one
# row per platform, account, campaign (ad group, ad) and day, the platform's name in "platform"
# ("Facebook Ads", or the connector's "facebook_ads"), its ids and money as the platform reports.
FIVETRAN = Platform(
    "fivetran", "Fivetran ad_reporting",
    {
        "date": ("date_day",),
        "campaign_name": ("campaign_name",),
        "campaign_id": ("campaign_id",),
        "channel": ("platform",),
        "cost": ("spend",),
        "impressions": ("impressions",),
        "clicks": ("clicks",),
        "conversions": ("conversions",),
        "revenue": ("conversions_value",),
    },
    ("date_day", "source_relation", "conversions_value", "ad_group_id", "ad_group_name"),
    # Every row names its platform; one that does not takes --channel, or is rejected.
    None,
)

PLATFORMS: dict[str, Platform] = {p.key: p for p in (META, GOOGLE_ADS, TIKTOK, LINKEDIN,
                                                     FIVETRAN)}
PLATFORM_CHOICES: tuple[str, ...] = ("auto", *PLATFORMS, "generic")
PLATFORM_LABELS: dict[str, str] = {"auto": "Recognise from the header",
                                   **{k: p.label for k, p in PLATFORMS.items()},
                                   "generic": "Any CSV (map the columns)"}

# Names the generic mapper also recognises, beyond every platform's own.
_GENERIC: dict[str, tuple[str, ...]] = {
    "date": ("date", "day", "report date", "reporting date"),
    "campaign_name": ("campaign name", "campaign", "campaign_name", "name"),
    "campaign_id": ("campaign id", "campaign_id"),
    "channel": ("channel", "platform", "network", "source", "publisher platform"),
    "cost": ("cost", "spend", "ad spend", "amount spent", "total spent", "amount"),
    "impressions": ("impressions", "impr.", "impr", "imps"),
    "clicks": ("clicks", "link clicks", "clicks (all)"),
    "conversions": ("conversions", "conv.", "purchases", "results", "orders"),
    "revenue": ("revenue", "conversion value", "conv. value", "purchase value", "sales", "value"),
    "engagement": ("engagement", "engagements", "post engagement"),
}


def _known_names() -> frozenset[str]:
    names: set[str] = set()
    for p in PLATFORMS.values():
        names.update(p.markers)
        for group in (*p.columns.values(), *p.extras.values()):
            names.update(group)
    for group in _GENERIC.values():
        names.update(group)
    return frozenset(names)


KNOWN_NAMES = _known_names()

def _find(names: tuple[str, ...], normalized: dict[str, str]) -> str | None:
    for name in names:
        if name in normalized:
            return normalized[name]
    return None


def _normalized(columns: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for col in columns:
        out.setdefault(normalize_header(col)[0], col)  # the first of duplicate names wins
    return out


def platform_mapping(platform: Platform, columns: list[str]) -> dict[str, str]:
    """field -> column of the file for ``platform`` (fields it lacks are left out); extras
    (date_end, campaign_type, currency) are included under their own names."""
    normalized = _normalized(columns)
    mapping = {}
    for name, candidates in (*platform.columns.items(), *platform.extras.items()):
        col = _find(candidates, normalized)
        if col is not None:
            mapping[name] = col
    return mapping


def missing_fields(mapping: dict[str, str | None]) -> list[str]:
    """The required fields a mapping leaves unmapped ("campaign" for neither name nor id)."""
    missing = [f for f in REQUIRED if not mapping.get(f)]
    if not any(mapping.get(f) for f in CAMPAIGN_FIELDS):
        missing.insert(1, "campaign_name")
    return missing


def detect(columns: list[str]) -> Platform | None:
    """The platform whose export these columns are, or None.

    A platform is a candidate when its names cover every required field; among candidates the
    one with the most of its own marker columns wins (Meta's "Amount spent", Google's
    "Impr.", TikTok's "Clicks (destination)", LinkedIn's "Total spent"…).
    """
    normalized = _normalized(columns)
    best, best_score = None, 0
    for platform in PLATFORMS.values():
        if missing_fields(platform_mapping(platform, columns)):
            continue
        score = sum(1 for m in platform.markers if m in normalized)
        if score > best_score:
            best, best_score = platform, score
    return best


# Words that give a column's meaning away when its name is none of the known ones.
_KEYWORDS: dict[str, re.Pattern[str]] = {k: re.compile(v) for k, v in {
    "date": r"\b(date|day|when)\b",
    "campaign_name": r"^(?!.*\bid\b).*\b(campaign|name|title)\b",
    "campaign_id": r"\bcampaign\b.*\bid\b|^id$",
    "channel": r"\b(channel|network|platform|source|publisher)\b",
    "cost": r"\b(spend|spent|cost|amount)\b",
    "impressions": r"\b(impr\w*|views?)\b",
    "clicks": r"\b(clicks?|taps?)\b",
    "conversions": r"\b(conv\w*|orders?|purchases?|leads?|results?)\b",
    "revenue": r"\b(revenue|value|sales|income)\b",
    "engagement": r"\bengage\w*",
}.items()}


# Ratios and averages ("Cost per order", "Conv. rate", "Cost / conv.", "CTR") are never a
# field's column, whatever word they share with it.
# Rankings and scores ("Quality ranking", "Optimisation score") are grades, not amounts either.
_RATIO = re.compile(r"\b(per|rate|ratio|ctr|cpc|cpm|cpa|cpv|roas|avg|average|frequency|rank\w*|"
                    r"score)\b|%|/")


NUMBER_FIELDS = ("cost", "impressions", "clicks", "conversions", "revenue", "engagement")
_NUMBER_TEXT = re.compile(r"^\(?[+-]?[$€£¥]?\s*[\d.,\s]*\d[\d.,\s]*\)?\s*%?$")
_NOTHING = frozenset({"", "--", "-", "—", "n/a", "none", "null", "nan"})


def looks_numeric(values: Sequence[object]) -> bool:
    """True when the column's (sampled) values read as numbers: at least 80 % of the cells that
    hold something. A column of "Average", "Above average", "-" is text, whatever its name."""
    cells = [str(v).strip() for v in values if v is not None]
    filled = [c for c in cells if c.casefold() not in _NOTHING]
    if not filled:
        return True  # an empty column cannot mislead: it reads as zeros
    numeric = sum(1 for c in filled if _NUMBER_TEXT.match(c))
    return numeric >= 0.8 * len(filled)


def suggest_mapping(columns: list[str], sample: Mapping[str, Sequence[object]] | None = None
                    ) -> dict[str, str | None]:
    """A first guess of field -> column for any CSV, for the user to correct.

    Exact (normalised) names first — the generic names, then every platform's — then a
    telling word ("Spend (EUR)", "Order value", "Campaign title"), then a close spelling
    (difflib, ratio >= 0.8). Each column is used at most once. With a ``sample`` of the file's
    values (column -> first cells), a column of text is never suggested for a number field
    (Meta's ``engagement_ranking`` says "Average", not an engagement count).
    """
    normalized = _normalized(columns)
    if sample is not None:
        textual = {c for c in columns if c in sample and not looks_numeric(sample[c])}
    else:
        textual = set()
    used: set[str] = set()
    mapping: dict[str, str | None] = {}
    for name in FIELDS:
        # A text column is out of the running for a number field (and only for those).
        taken = used | textual if name in NUMBER_FIELDS else used
        candidates = list(_GENERIC.get(name, ()))
        for p in PLATFORMS.values():
            candidates.extend(c for c in p.columns.get(name, ()) if c not in candidates)
        col = next((normalized[c] for c in candidates if c in normalized
                    and normalized[c] not in taken), None)
        # snake_case names (API exports) are read as words: "engagement_ranking" is a ranking.
        free = [n for n, c in normalized.items()
                if c not in taken and not _RATIO.search(n.replace("_", " "))]
        if col is None:
            col = next((normalized[n] for n in free if _KEYWORDS[name].search(n)), None)
        if col is None:
            for candidate in candidates:
                close = difflib.get_close_matches(candidate, free, n=1, cutoff=0.8)
                if close:
                    col = normalized[close[0]]
                    break
        mapping[name] = col
        if col is not None:
            used.add(col)
    return mapping


# What a result type says a platform "result" is. A conversion word wins ("actions:offsite_
# conversion.fb_pixel_lead", "Meta leads", "quoteReceived"); then a delivery or attention word
# ("Link clicks", "actions:link_click", "Reach", "ThruPlays", "Post engagement") says it is not
# one; a type that says neither is read as a conversion.
_CONVERSION_WORDS = ("conversion", "lead", "purchase", "registration", "quote", "contact",
                     "schedule", "submit", "subscribe", "install", "add to cart", "add_to_cart",
                     "checkout", "donate", "trial", "appointment", "sign up", "signup", "order")
_NOT_CONVERSION_WORDS = ("click", "reach", "impression", "view", "thruplay", "engagement",
                         "like", "follow", "video", "visit", "message", "awareness", "recall")


def result_is_conversion(kind: str) -> bool:
    """False when a result type names clicks, reach, views or engagement, not a conversion."""
    text = " ".join(str(kind).casefold().replace("_", " ").split())
    if not text or text in ("-", "--"):
        return True
    if any(w.replace("_", " ") in text for w in _CONVERSION_WORDS):
        return True
    return not any(w in text for w in _NOT_CONVERSION_WORDS)
