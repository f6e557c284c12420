"""The ad channels: the six the demo world has, and how a channel is named to people.

A channel is data (an import can bring others); these six have fixed labels and a fixed
order on every page, and any other channel is named from its id ("microsoft_ads" ->
"Microsoft Ads").
"""

from __future__ import annotations

CHANNELS: tuple[str, ...] = ("facebook", "instagram", "google_ads", "tiktok", "youtube", "linkedin")

CHANNEL_LABELS: dict[str, str] = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "google_ads": "Google Ads",
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "linkedin": "LinkedIn",
}


def channel_label(channel: str) -> str:
    """The channel as people name it: "Google Ads" for google_ads."""
    return CHANNEL_LABELS.get(channel, str(channel).replace("_", " ").title())


def ordered(channels: object) -> list[str]:
    """The known channels in their fixed order, then any others alphabetically."""
    present = set(channels)  # type: ignore[call-overload]
    return [c for c in CHANNELS if c in present] + sorted(present - set(CHANNELS))
