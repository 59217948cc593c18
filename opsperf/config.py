"""Configuration defaults; ``instance/config.py`` and ``OPSPERF_*`` variables override them."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


class Defaults:
    # Signs sessions and CSRF tokens. Unset: a random key is made on first start and kept in
    # SECRET_KEY_FILE (default instance/secret_key, owner-only). Several hosts: set the same
    # OPSPERF_SECRET_KEY on each.
    SECRET_KEY: str | None = None
    SECRET_KEY_FILE: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # default: sqlite:///<instance>/opsperf.sqlite
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, object] = {}  # PostgreSQL: pool_pre_ping by default
    DEFINITION_ROOTS = [str(PROJECT_ROOT / name) for name in ("org", "forms", "workflows")]
    DEFINITION_CHECK_INTERVAL = 2.0
    LANGUAGES = ["zh", "en"]
    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = str(TRANSLATIONS)  # absolute: works from any directory
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = 14 * 24 * 3600  # seconds
    # Log-in throttling: after this many wrong passwords for one account, or failures from one
    # client address, within LOGIN_WINDOW seconds, log-ins are refused (429) until it ends.
    LOGIN_MAX_FAILURES = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS = 50
    LOGIN_WINDOW = 15 * 60
    # A set-password link works once, for this many days.
    PASSWORD_LINK_DAYS = 14
    # A payout sheet of more rows than this is made in the background (its page shows the
    # progress, then offers the file); smaller ones download at once.
    PAYOUT_INLINE_ROWS = 2000
    # The address people open the app at, for links made in the background (a sheet of
    # set-password links); unset, the address of the request that asked for them.
    PUBLIC_URL: str | None = None
    # The company's name at the head of a printed appraisal; unset, the name of the
    # department at the top of the person's department tree.
    COMPANY_NAME: str | None = None
    # Proxies in front of the app (nginx, a load balancer) whose X-Forwarded-For/-Proto to
    # trust: with 0, every client looks like the proxy to per-address throttling.
    TRUSTED_PROXIES = 0
    # Behind HTTPS set OPSPERF_SECURE_COOKIES=true: cookies are then never sent over plain HTTP.
    SECURE_COOKIES = False
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024
    JOBS_QUEUE: str | None = None  # default: sqlite:///<instance>/jobs.sqlite; or redis://…
    JOB_RETRIES = 2  # a job that fails unexpectedly runs again up to this many times
    JOB_RETRY_DELAY = 10  # seconds before running it again
    # E-mail (services.notifications): unset SMTP_HOST, notifications stay in the inbox.
    # SMTP_SECURITY: starttls, ssl (implicit TLS, usually port 465) or none.
    SMTP_HOST: str | None = None
    SMTP_PORT = 587
    SMTP_SECURITY = "starttls"
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_TIMEOUT = 20  # seconds
    MAIL_FROM = "opsperf <opsperf@localhost>"
    EMAIL_RETRIES = 5  # deliveries tried before an e-mail is given up (shown as failed)
    EMAIL_RETRY_DELAY = 60  # seconds before the first retry; doubled each time
    DIGEST_HOUR = 0  # UTC hour from which the daily digest goes out (0 = 08:00 in Beijing)
    # `opsperf serve` and `opsperf demo` run `opsperf tick` this often (seconds); 0: never
    # (run it from cron or a systemd timer instead).
    TICK_INTERVAL = 60
