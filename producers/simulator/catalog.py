"""Who watches what, on which device and network: the simulator's static world.

The tables are small and literal on purpose: a reader of a QoE report made from
simulated traffic should recognise every device, player, CDN and network in it.
Draws from them take an explicit seeded `random.Random`, so a seed fixes the
world as well as the traffic.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from random import Random
from typing import Literal

ContentType = Literal["vod", "live"]
DeviceType = Literal["tv", "mobile", "tablet", "desktop", "console"]


def seeded_uuid(rng: Random) -> str:
    """A version-4 UUID drawn from the seeded RNG, so ids repeat with the seed."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def pick_weighted(rng: Random, weighted: tuple[tuple[str, float], ...]) -> str:
    names = [name for name, _ in weighted]
    weights = [weight for _, weight in weighted]
    return rng.choices(names, weights=weights, k=1)[0]


# --- Bitrate ladder -------------------------------------------------------------


@dataclass(frozen=True)
class Rendition:
    bitrate_kbps: int
    width: int
    height: int


# An HLS-authoring-style ladder, 234p to 2160p; devices cap it by screen height.
LADDER: tuple[Rendition, ...] = (
    Rendition(145, 416, 234),
    Rendition(365, 640, 360),
    Rendition(730, 768, 432),
    Rendition(1100, 960, 540),
    Rendition(2000, 1280, 720),
    Rendition(3000, 1280, 720),
    Rendition(4500, 1920, 1080),
    Rendition(6000, 1920, 1080),
    Rendition(11600, 3840, 2160),
    Rendition(16800, 3840, 2160),
)


def ladder_for(max_height: int) -> tuple[Rendition, ...]:
    return tuple(r for r in LADDER if r.height <= max_height)


# --- Networks -------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkProfile:
    """Bandwidth distribution and trouble of one kind of access network.

    `median_kbps`/`sigma` give the lognormal bandwidth a session starts with (it
    then drifts); `stalls_per_min` is the stall hazard while playing at a bitrate
    comfortably under the bandwidth; `startup_ms` the median time to first frame.
    """

    name: str
    connection_type: str
    median_kbps: int
    sigma: float
    stalls_per_min: float
    startup_ms: int


NETWORKS: dict[str, NetworkProfile] = {
    p.name: p
    for p in (
        NetworkProfile("fiber", "ethernet", 90_000, 0.5, 0.01, 700),
        NetworkProfile("cable", "wifi", 35_000, 0.6, 0.03, 900),
        NetworkProfile("dsl", "wifi", 7_000, 0.5, 0.10, 1_500),
        NetworkProfile("5g", "cellular", 40_000, 0.8, 0.05, 1_000),
        NetworkProfile("4g", "cellular", 9_000, 0.8, 0.14, 1_800),
        NetworkProfile("3g", "cellular", 1_500, 0.6, 0.50, 4_000),
    )
}
_FIXED_NETWORKS = (("fiber", 0.3), ("cable", 0.5), ("dsl", 0.2))
_MOBILE_NETWORKS = (("cable", 0.35), ("fiber", 0.1), ("5g", 0.2), ("4g", 0.28), ("3g", 0.07))


# --- Devices and players --------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    """One kind of device with the player that ships on it."""

    device_type: DeviceType
    os_name: str
    os_versions: tuple[str, ...]
    device_models: tuple[str, ...]
    player_name: str
    player_versions: tuple[str, ...]  # the last one is the newest, rolled out to fewer devices
    app_version: str
    max_height: int
    weight: float


PLATFORMS: tuple[Platform, ...] = (
    Platform("tv", "Tizen", ("7.0", "8.0"), ("Samsung QN90C", "Samsung CU7000"), "shaka-player", ("4.7.11", "4.8.5", "4.9.2"), "5.12.0", 2160, 0.14),
    Platform("tv", "webOS", ("6.0", "23"), ("LG OLED C3", "LG UR8000"), "shaka-player", ("4.7.11", "4.8.5", "4.9.2"), "5.12.0", 2160, 0.08),
    Platform("tv", "Android TV", ("12", "13"), ("Chromecast with Google TV", "Sony Bravia XR"), "media3-exoplayer", ("1.3.1", "1.4.1"), "5.11.2", 2160, 0.07),
    Platform("tv", "tvOS", ("17.5", "18.1"), ("Apple TV 4K",), "AVPlayer", ("tvOS-17.5", "tvOS-18.1"), "5.12.1", 2160, 0.05),
    Platform("tv", "Roku OS", ("12.5", "13.0"), ("Roku Ultra", "Roku Express"), "roku-video-node", ("12.5.0", "13.0.0"), "5.10.0", 2160, 0.06),
    Platform("mobile", "iOS", ("17.5", "18.1"), ("iPhone 14", "iPhone 15 Pro"), "AVPlayer", ("iOS-17.5", "iOS-18.1"), "5.12.1", 1080, 0.18),
    Platform("mobile", "Android", ("13", "14"), ("Pixel 8", "Galaxy S23", "Redmi Note 12"), "media3-exoplayer", ("1.3.1", "1.4.1"), "5.11.2", 1080, 0.17),
    Platform("tablet", "iPadOS", ("17.5", "18.1"), ("iPad Air", "iPad (10th gen)"), "AVPlayer", ("iOS-17.5", "iOS-18.1"), "5.12.1", 1080, 0.06),
    Platform("tablet", "Android", ("13", "14"), ("Galaxy Tab S9",), "media3-exoplayer", ("1.3.1", "1.4.1"), "5.11.2", 1080, 0.03),
    Platform("desktop", "Windows", ("10", "11"), ("Chrome 126", "Edge 126", "Firefox 127"), "hls.js", ("1.5.13", "1.5.17"), "web-2024.06", 1080, 0.08),
    Platform("desktop", "macOS", ("14.5", "15.0"), ("Safari 17", "Chrome 126"), "shaka-player", ("4.7.11", "4.8.5", "4.9.2"), "web-2024.06", 1080, 0.04),
    Platform("console", "PlayStation", ("24.05",), ("PlayStation 5",), "webmaf", ("3.1.0",), "4.2.0", 2160, 0.02),
    Platform("console", "Xbox", ("10.0.25398",), ("Xbox Series X",), "mediaplayer-uwp", ("10.0.2",), "4.2.0", 2160, 0.02),
)

PLAYER_VERSIONS: frozenset[str] = frozenset(v for p in PLATFORMS for v in p.player_versions)
SDK_VERSION = "ottlake-sdk-py/0.1.0"


# --- Where viewers are, and which CDN serves them -------------------------------

CDNS: tuple[str, ...] = ("akamai", "cloudfront", "fastly", "cloudflare")

# country -> (weight, ISPs, CDN weights)
COUNTRIES: dict[str, tuple[float, tuple[str, ...], tuple[tuple[str, float], ...]]] = {
    "US": (0.34, ("Comcast", "Charter", "Verizon", "AT&T"), (("akamai", 0.4), ("cloudfront", 0.3), ("fastly", 0.2), ("cloudflare", 0.1))),
    "GB": (0.10, ("BT", "Sky", "Virgin Media"), (("akamai", 0.35), ("cloudfront", 0.25), ("fastly", 0.3), ("cloudflare", 0.1))),
    "DE": (0.09, ("Deutsche Telekom", "Vodafone", "1&1"), (("akamai", 0.4), ("cloudfront", 0.2), ("fastly", 0.2), ("cloudflare", 0.2))),
    "FR": (0.07, ("Orange", "Free", "SFR"), (("akamai", 0.4), ("cloudfront", 0.3), ("fastly", 0.1), ("cloudflare", 0.2))),
    "BR": (0.10, ("Claro", "Vivo", "TIM"), (("akamai", 0.3), ("cloudfront", 0.4), ("fastly", 0.1), ("cloudflare", 0.2))),
    "IN": (0.10, ("Jio", "Airtel", "ACT Fibernet"), (("akamai", 0.5), ("cloudfront", 0.3), ("cloudflare", 0.2))),
    "JP": (0.06, ("NTT", "SoftBank", "KDDI"), (("akamai", 0.5), ("cloudfront", 0.3), ("fastly", 0.2))),
    "CA": (0.06, ("Rogers", "Bell", "Telus"), (("akamai", 0.4), ("cloudfront", 0.3), ("fastly", 0.3))),
    "ES": (0.04, ("Movistar", "Vodafone ES"), (("akamai", 0.5), ("cloudfront", 0.3), ("cloudflare", 0.2))),
    "MX": (0.04, ("Telmex", "Totalplay"), (("akamai", 0.4), ("cloudfront", 0.4), ("cloudflare", 0.2))),
}


# --- Titles ---------------------------------------------------------------------


@dataclass(frozen=True)
class Title:
    content_id: str
    content_type: ContentType
    title: str
    duration_ms: int | None  # vod only
    series_id: str | None = None
    has_ads: bool = False
    # Countries where the rights holder allows playback; None means everywhere.
    allowed_countries: frozenset[str] | None = None
    weight: float = 1.0


def _series(series_id: str, name: str, episodes: int, minutes: int, *, ads: bool, weight: float) -> list[Title]:
    # Episodes differ in length by a few minutes, deterministically.
    return [
        Title(
            f"{series_id}-e{n:02d}", "vod", f"{name} E{n}", (minutes * 60 + (n * 37) % 300) * 1000,
            series_id=series_id, has_ads=ads, weight=weight,
        )
        for n in range(1, episodes + 1)
    ]


TITLES: tuple[Title, ...] = (
    *_series("s-harbor-lights", "Harbor Lights", 8, 44, ads=False, weight=1.2),
    *_series("s-kitchen-wars", "Kitchen Wars", 10, 22, ads=True, weight=1.0),
    *_series("s-deep-orbit", "Deep Orbit", 6, 52, ads=False, weight=1.1),
    Title("m-the-long-night", "vod", "The Long Night", 7_920_000, weight=1.5),
    Title("m-paper-rivers", "vod", "Paper Rivers", 6_300_000, has_ads=True, weight=1.0),
    Title("m-glass-city", "vod", "Glass City", 8_640_000, weight=1.2),
    Title("c-trailer-orbit", "vod", "Deep Orbit: Trailer", 150_000, has_ads=True, weight=1.5),
    Title("c-highlights-final", "vod", "Cup Final Highlights", 420_000, has_ads=True, weight=2.0),
    Title("c-recipe-minute", "vod", "Recipe in a Minute", 75_000, has_ads=True, weight=1.0),
    Title("l-news-24", "live", "News 24", None, has_ads=True, weight=3.0),
    Title("l-sports-one", "live", "Sports One", None, has_ads=True,
          allowed_countries=frozenset({"US", "CA", "GB"}), weight=1.2),
    Title("l-music-live", "live", "Music Live", None, weight=1.0),
)

TITLES_BY_ID: dict[str, Title] = {t.content_id: t for t in TITLES}


def pick_title(rng: Random) -> Title:
    return rng.choices(TITLES, weights=[t.weight for t in TITLES], k=1)[0]


def next_episode(title: Title) -> Title | None:
    """The autoplay candidate after `title` (the next episode of its series)."""
    if title.series_id is None:
        return None
    episodes = [t for t in TITLES if t.series_id == title.series_id]
    index = episodes.index(title)
    return episodes[index + 1] if index + 1 < len(episodes) else None


# --- Viewers --------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """One device of one viewer: fixed for every play session it makes."""

    viewer_id: str
    platform: Platform
    os_version: str
    device_model: str
    player_version: str
    country: str
    isp: str
    network: NetworkProfile


def make_viewer(rng: Random) -> Viewer:
    platform = rng.choices(PLATFORMS, weights=[p.weight for p in PLATFORMS], k=1)[0]
    versions = platform.player_versions
    # Older versions keep most of the installed base; the newest is a partial rollout.
    version_weights = [1.0] * (len(versions) - 1) + [0.6] if len(versions) > 1 else [1.0]
    country = pick_weighted(rng, tuple((c, w) for c, (w, _, _) in COUNTRIES.items()))
    fixed_line = platform.device_type in ("tv", "console", "desktop")
    network = NETWORKS[pick_weighted(rng, _FIXED_NETWORKS if fixed_line else _MOBILE_NETWORKS)]
    if fixed_line and network.name != "fiber" and platform.device_type != "desktop" and rng.random() < 0.3:
        network = NETWORKS["fiber"]  # many living-room devices are wired
    return Viewer(
        viewer_id=seeded_uuid(rng),
        platform=platform,
        os_version=rng.choice(platform.os_versions),
        device_model=rng.choice(platform.device_models),
        player_version=rng.choices(versions, weights=version_weights, k=1)[0],
        country=country,
        isp=rng.choice(COUNTRIES[country][1]),
        network=network,
    )


def pick_cdn(rng: Random, country: str) -> str:
    return pick_weighted(rng, COUNTRIES[country][2])
