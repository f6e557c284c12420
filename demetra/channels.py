"""The ad channels: the six the demo world has, the others Demetra knows by name, and how any
channel is named to people.

A channel is data: an import can bring any channel, stored as its id, a slug of lowercase
letters, digits and underscores ("quora_ads"). ``CHANNELS`` are the six of the demo world, in
the fixed order every page shows them first; ``KNOWN_CHANNELS`` adds the other platforms an
export may name (Microsoft Ads, Pinterest, …), each with a label and the names a file may use
for it (``CHANNEL_ALIASES``). Any other channel is named from its id ("quora_ads" ->
"Quora Ads").
"""

from __future__ import annotations

import re
import unicodedata

CHANNELS: tuple[str, ...] = ("facebook", "instagram", "google_ads", "tiktok", "youtube", "linkedin")

CHANNEL_LABELS: dict[str, str] = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "google_ads": "Google Ads",
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "linkedin": "LinkedIn",
    "microsoft_ads": "Microsoft Ads",
    "pinterest": "Pinterest",
    "snapchat": "Snapchat",
    "x": "X (Twitter)",
    "reddit": "Reddit",
    "amazon": "Amazon Ads",
    "apple_search_ads": "Apple Search Ads",
}
# The seed channels first, then the others a file may name, in this order on every page.
KNOWN_CHANNELS: tuple[str, ...] = tuple(CHANNEL_LABELS)

MAX_CHANNEL_LENGTH = 32  # the campaigns.channel column is VARCHAR(32)
_CHANNEL_ID = re.compile(rf"(?=[a-z0-9_]*[a-z0-9])[a-z0-9_]{{1,{MAX_CHANNEL_LENGTH}}}")
CHANNEL_ID_FORM = (f"a channel id of lowercase letters, digits and underscores, at most "
                   f"{MAX_CHANNEL_LENGTH} characters")


def _spoken(text: object) -> str:
    """A channel's name compared loosely: case-folded, accents dropped, anything but letters
    and digits a single space ("Audience_Network", "audience-network" -> "audience network")."""
    plain = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain.casefold()).split())


# What a channel cell may say -> the channel. Meta's publisher_platform values: Audience Network
# and Messenger placements are bought through Facebook; Threads ads run through Instagram
# accounts. Fivetran's ad_reporting writes "Facebook Ads" or "facebook_ads" (its connector's
# name); every channel's id and label name it too.
CHANNEL_ALIASES: dict[str, str] = {
    **{_spoken(c): c for c in KNOWN_CHANNELS},
    **{_spoken(label): c for c, label in CHANNEL_LABELS.items()},
    "fb": "facebook", "meta": "facebook", "facebook ads": "facebook", "meta ads": "facebook",
    "audience network": "facebook", "messenger": "facebook",
    "ig": "instagram", "threads": "instagram", "instagram ads": "instagram",
    "google": "google_ads", "adwords": "google_ads", "google adwords": "google_ads",
    "search": "google_ads",
    "yt": "youtube", "you tube": "youtube", "youtube ads": "youtube",
    "tik tok": "tiktok", "tiktok ads": "tiktok",
    "linked in": "linkedin", "linkedin ads": "linkedin", "linkedin ad analytics": "linkedin",
    "microsoft": "microsoft_ads", "microsoft advertising": "microsoft_ads", "bing": "microsoft_ads",
    "bing ads": "microsoft_ads", "microsoft bing": "microsoft_ads",
    "pinterest ads": "pinterest",
    "snap": "snapchat", "snap ads": "snapchat", "snapchat ads": "snapchat",
    "x ads": "x", "twitter": "x", "twitter ads": "x", "x twitter": "x",
    "reddit ads": "reddit",
    "amazon advertising": "amazon", "amazon sponsored ads": "amazon",
    "apple ads": "apple_search_ads", "apple search": "apple_search_ads",
}


# Cells that say there is no channel ("", "-", "n/a", "(not set)"): such a row takes the channel
# chosen for the file, or is rejected as having none.
_NO_CHANNEL = frozenset({"", "n a", "na", "none", "null", "nan", "not set", "not available"})


def names_no_channel(text: object) -> bool:
    """True for a cell that holds no channel: empty, a dash, "n/a", "(not set)"…"""
    return _spoken(text) in _NO_CHANNEL


def is_channel_id(text: object) -> bool:
    """True for a channel id as stored: lowercase letters, digits and underscores (not only
    underscores), at most 32 characters ("google_ads", "quora_ads")."""
    return isinstance(text, str) and _CHANNEL_ID.fullmatch(text) is not None


def known_channel(text: object) -> str | None:
    """The known channel a name stands for ("Bing Ads" -> microsoft_ads), else None."""
    return CHANNEL_ALIASES.get(_spoken(text))


def channel_slug(text: object) -> str | None:
    """The channel id made from a name no alias knows ("Quora Ads" -> quora_ads); None when the
    name has no letter or digit, or makes an id longer than 32 characters."""
    slug = _spoken(text).replace(" ", "_")
    return slug if is_channel_id(slug) else None


def channel_of(text: object) -> str | None:
    """The channel a cell names: a known channel by any of its names, else the slug of the
    name; None for a cell that names none (see ``names_no_channel``) or no id can be made of."""
    if names_no_channel(text):
        return None
    return known_channel(text) or channel_slug(text)


def channel_choice(text: str) -> str | None:
    """The channel a user chose (``--channel``, a settings key): a channel id as it is stored,
    or any name of a known channel ("Bing" -> microsoft_ads); None for anything else."""
    if names_no_channel(text):
        return None
    return known_channel(text) or (text if is_channel_id(text) else None)


def unknown_channel(text: object) -> str:
    """Why ``text`` is not a channel, and what would be one."""
    slug = channel_slug(text)
    hint = f" (such as {slug})" if slug else " (such as quora_ads)"
    return (f"unknown channel {text!r}: use a known channel ({', '.join(KNOWN_CHANNELS)}) or "
            f"{CHANNEL_ID_FORM}{hint}")


def channel_label(channel: str) -> str:
    """The channel as people name it: "Google Ads" for google_ads, "Quora Ads" for quora_ads."""
    return CHANNEL_LABELS.get(channel, str(channel).replace("_", " ").title())


def ordered(channels: object) -> list[str]:
    """The known channels in their fixed order, then any others alphabetically."""
    present = set(channels)  # type: ignore[call-overload]
    return [c for c in KNOWN_CHANNELS if c in present] + sorted(present - set(KNOWN_CHANNELS))
