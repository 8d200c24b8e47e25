"""The fixed facts of the demo company: calendar, channels, reps, segments, products.

Everything that shapes the story told in :func:`kpiwidgets.load_demo` lives here, so the
docstring, the generator and the tests agree on one set of numbers. Times inside the
generator are float days since :data:`START` (midnight); :func:`to_timestamps` turns them into
naive ``datetime64[us]`` values at whole seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

START = np.datetime64("2024-01-01", "D")
END = np.datetime64("2026-01-01", "D")  # exclusive: the data covers 2024-01-01 .. 2025-12-31
N_DAYS = int((END - START).astype(int))
N_MONTHS = 24
#: From this day a new lead-scoring rule hands sales better MQLs (MQL→SQL jumps).
SCORING_CHANGE = np.datetime64("2025-04-01", "D")
SCORING_CHANGE_DAY = float((SCORING_CHANGE - START).astype(int))

#: Day index (since START) at which each month / quarter starts, one past the end included.
MONTH_STARTS = (
    np.arange("2024-01", "2026-02", dtype="datetime64[M]").astype("datetime64[D]") - START
).astype(float)
QUARTER_STARTS = (
    np.arange("2024-01", "2027-04", 3, dtype="datetime64[M]").astype("datetime64[D]") - START
).astype(float)
N_QUARTERS = 8

# Leads per day follow growth x month seasonality x weekday: a summer dip, a strong autumn,
# and a quiet December (holidays), the things a trend chart should show.
MONTH_FACTOR = np.array([1.0, 1.05, 1.1, 1.05, 1.05, 0.95, 0.8, 0.75, 1.05, 1.15, 1.1, 0.6])
WEEKDAY_FACTOR = np.array([1.0, 1.0, 1.0, 1.0, 0.95, 0.3, 0.25])  # Monday .. Sunday
GROWTH_OVER_PERIOD = 0.4

# --- channels ---------------------------------------------------------------------------
CHANNELS = ("paid_search", "paid_social", "content", "events", "referral", "outbound")
CHANNEL_SHARE = np.array([0.30, 0.18, 0.18, 0.10, 0.09, 0.15])
#: Events cluster in spring and autumn conference seasons.
EVENTS_MONTH_FACTOR = np.array([0.5, 0.8, 1.5, 1.6, 1.4, 0.8, 0.2, 0.2, 1.4, 1.8, 1.5, 0.3])
#: Marketing cost per lead (currency); outbound is mostly paid by sales (see SALES_CPL).
MARKETING_CPL = np.array([45.0, 70.0, 30.0, 420.0, 25.0, 20.0])
#: Sales-team spend per lead: SDR time for outbound, booth staff and travel for events.
SALES_CPL = np.array([0.0, 0.0, 0.0, 90.0, 0.0, 180.0])
# Lead quality: P(lead -> MQL), P(MQL -> SQL) before the scoring change, P(SQL -> opp),
# P(win) before segment / rep / season effects, monthly churn multiplier of won accounts.
P_MQL = np.array([0.32, 0.26, 0.42, 0.55, 0.60, 0.36])
P_SQL = np.array([0.26, 0.24, 0.32, 0.42, 0.46, 0.34])
P_OPP = np.array([0.55, 0.50, 0.60, 0.72, 0.76, 0.60])
P_WIN = np.array([0.20, 0.18, 0.26, 0.34, 0.42, 0.24])
CHURN_FACTOR = np.array([1.5, 1.3, 1.0, 0.8, 0.6, 1.0])
#: MQL→SQL multiplier for MQLs from SCORING_CHANGE on; the stricter rule also makes MQL rarer.
SCORING_SQL_LIFT = 1.55
SCORING_MQL_FACTOR = 0.85

CAMPAIGNS = {
    "paid_search": (("search_brand", 0.3), ("search_generic", 0.5), ("search_competitor", 0.2)),
    "paid_social": (("social_linkedin", 0.7), ("social_retargeting", 0.3)),
    "content": (("seo_blog", 0.5), ("webinar_series", 0.3), ("ebook_gated", 0.2)),
    "events": (("event_trade_show", 0.6), ("event_roadshow", 0.4)),
    "referral": (("referral_partners", 0.6), ("referral_customers", 0.4)),
    "outbound": (("outbound_sdr", 0.7), ("outbound_abm", 0.3)),
}
CAMPAIGN_NAMES = tuple(name for ch in CHANNELS for name, _ in CAMPAIGNS[ch])
CAMPAIGN_CHANNEL = np.array([i for i, ch in enumerate(CHANNELS) for _ in CAMPAIGNS[ch]])
CAMPAIGN_SHARE = np.array([w for ch in CHANNELS for _, w in CAMPAIGNS[ch]])

# --- segments and products --------------------------------------------------------------
SEGMENTS = ("smb", "mid_market", "enterprise")
#: P(segment | channel): events and outbound bring bigger companies, paid search small ones.
SEGMENT_BY_CHANNEL = np.array(
    [
        [0.70, 0.25, 0.05],
        [0.60, 0.32, 0.08],
        [0.55, 0.33, 0.12],
        [0.25, 0.40, 0.35],
        [0.40, 0.38, 0.22],
        [0.20, 0.45, 0.35],
    ]
)
SEGMENT_WIN = np.array([1.1, 1.0, 0.8])
SEGMENT_AMOUNT = np.array([7_000.0, 28_000.0, 110_000.0])  # annual contract value, x product
SEGMENT_CYCLE_DAYS = np.array([21.0, 45.0, 95.0])  # median created -> closed
SEGMENT_CHURN = np.array([0.035, 0.018, 0.008])  # monthly logo churn hazard
SEGMENT_EXPANSION = np.array([0.02, 0.03, 0.04])  # monthly chance of an upsell

PRODUCTS = ("Starter", "Growth", "Enterprise", "Analytics Add-on")
PRODUCT_AMOUNT = np.array([0.6, 1.0, 1.6, 0.5])
PRODUCT_BY_SEGMENT = np.array(
    [
        [0.60, 0.30, 0.00, 0.10],
        [0.15, 0.55, 0.10, 0.20],
        [0.00, 0.15, 0.70, 0.15],
    ]
)

# --- the sales team ---------------------------------------------------------------------
OWNERS = (
    "Ava Chen",
    "Ben Okafor",
    "Farid Haddad",
    "Carla Ruiz",
    "Elena Rossi",
    "Hugo Martin",
    "Dmitri Volkov",
    "Grace Kim",
)
#: P(owner | segment): three SMB reps, three mid-market reps, two enterprise reps.
OWNER_BY_SEGMENT = np.array(
    [
        [0.36, 0.34, 0.30, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.34, 0.33, 0.33, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.5],
    ]
)
OWNER_WIN = np.array([1.30, 1.0, 0.85, 1.0, 1.1, 0.75, 1.15, 1.0])
#: Median minutes to first response: Ava answers in minutes, Farid takes hours.
OWNER_RESPONSE_MINUTES = np.array([3.0, 12.0, 150.0, 25.0, 8.0, 40.0, 35.0, 18.0])
#: Final commit call / actual won: Hugo over-forecasts, Dmitri sandbags.
OWNER_FORECAST_BIAS = np.array([1.02, 0.97, 1.03, 1.0, 0.98, 1.40, 0.68, 1.02])
SANDBAGGER = "Dmitri Volkov"
OVER_FORECASTER = "Hugo Martin"

# --- content ----------------------------------------------------------------------------
N_CONTENT = 60
CONTENT_KINDS = ("case_study", "whitepaper", "webinar", "blog_post", "one_pager", "demo_video")
CONTENT_TOPICS = (
    "Forecasting with confidence",
    "Cutting churn in SaaS",
    "Pipeline hygiene for RevOps",
    "Attribution without the guesswork",
    "Scaling outbound",
    "Pricing for mid-market",
    "Security and compliance",
    "Customer onboarding playbook",
    "Board-ready KPIs",
    "From MQL to revenue",
    "Quarter-end without panic",
    "Data-driven enablement",
)

TOUCH_KINDS = ("email", "call", "meeting", "content")
STAGES = ("discovery", "demo", "proposal", "negotiation", "closed_won", "closed_lost")


def to_timestamps(days: np.ndarray) -> np.ndarray:
    """Float days since START (NaN = missing) -> naive ``datetime64[us]`` at whole seconds."""
    missing = np.isnan(days)
    seconds = np.round(np.where(missing, 0.0, days) * 86_400.0).astype(np.int64)
    out = START.astype("datetime64[us]") + seconds.astype("timedelta64[s]")
    out[missing] = np.datetime64("NaT")
    return out


def labels(names: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """Codes into ``names`` (-1 = missing) as a pandas ``str`` column, without a row loop."""
    pool = pd.array(list(names), dtype="str")
    return pd.Series(pool.take(codes, allow_fill=True))


def make_ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    """Zero-padded ids such as ``L000001`` built digit by digit (fast for millions)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    buf = np.empty((len(numbers), width + 1), dtype=np.uint8)
    buf[:, 0] = ord(prefix)
    buf[:, 1:] = (numbers[:, None] // powers) % 10 + ord("0")
    text = buf.view(f"S{width + 1}").ravel().astype(f"U{width + 1}")
    return pd.Series(pd.array(text, dtype="str"))


def choose_rows(rng: np.random.Generator, probs: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """For each row draw a category from ``probs[groups[row]]`` (rows of probabilities)."""
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(len(groups))
    return (u[:, None] >= cdf[groups]).sum(axis=1)
