"""Error reporting to Sentry (or a service that speaks its protocol), when SENTRY_DSN is set.

Unset, nothing is imported or started. Reports carry the release (GIT_REVISION) and no
personal data: no request bodies, cookies, query strings, user details or local
variables. What the SDK leaves out by its options is listed in `start_error_reporting`;
`scrub` removes the rest from every event before it leaves the process.
https://docs.sentry.io/platforms/python/integrations/django/
https://docs.sentry.io/platforms/python/data-management/sensitive-data/
"""

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator

from config.variables import EnvPart

if TYPE_CHECKING:  # the SDK itself is imported only when SENTRY_DSN is set
    from sentry_sdk.types import Event

FILTERED = "[Filtered]"
# Request headers that can carry what a person typed or was sent: a Referer holds the
# previous page's query string (a search, a token from an email link).
URL_HEADERS = ("Referer", "Origin")


class ErrorsEnv(EnvPart):
    SENTRY_DSN: SecretStr = Field(
        SecretStr(""),
        description="Send unhandled errors to Sentry (or a compatible service). Empty: off.",
    )
    SENTRY_ENVIRONMENT: str = Field(
        "production", description="The environment name errors are filed under."
    )

    @field_validator("SENTRY_DSN")
    @classmethod
    def usable_sentry_dsn(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value():
            from sentry_sdk.utils import BadDsn, Dsn

            try:
                Dsn(value.get_secret_value())
            except (BadDsn, ValueError):
                raise ValueError(
                    "must look like https://key@host/project-id (Sentry's client keys page)"
                ) from None
        return value


def start_error_reporting(env: ErrorsEnv, release: str) -> None:
    dsn = env.SENTRY_DSN.get_secret_value()
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.scrubber import EventScrubber

    sentry_sdk.init(
        dsn=dsn,
        release=release,
        environment=env.SENTRY_ENVIRONMENT,
        integrations=[DjangoIntegration()],
        # No cookies, no user's id, email or address, no Authorization header. Personal
        # data stays out of reports unless someone decides otherwise, with a reason and a
        # privacy notice to match.
        send_default_pii=False,
        # A form's fields (an email address, a note's text) are not read into reports.
        max_request_body_size="never",
        # A view's local variables hold the request's data too (a form, the user).
        include_local_variables=False,
        # Values under names such as password, token, secret, session or csrf are masked
        # wherever they are in the event, not only at its top level.
        event_scrubber=EventScrubber(recursive=True),
        before_send=scrub,
        # Errors only: performance tracing has its own cost and quota, a separate choice.
        traces_sample_rate=None,
    )


def scrub(event: "Event", hint: dict[str, Any]) -> "Event | None":
    """What the SDK's options still let through, removed; None drops a duplicate event."""
    if is_duplicate_task_failure(hint):
        return None
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("cookies", None)
        if request.get("query_string"):
            request["query_string"] = FILTERED
        headers = request.get("headers")
        if isinstance(headers, dict):
            for name in [name for name in headers if name.lower() == "cookie"]:
                headers[name] = FILTERED
            for name in [name for name in headers if name.title() in URL_HEADERS]:
                headers[name] = without_query(str(headers[name]))
    event.pop("user", None)
    return event


def without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def is_duplicate_task_failure(hint: dict) -> bool:
    """A task that fails for good is logged twice at ERROR: by django-ox (its id and
    attempts, no traceback) and by Django's tasks framework (with the traceback). Each
    would be an event; the one with the traceback is kept."""
    record = hint.get("log_record")
    return (
        record is not None
        and record.name.startswith("django_ox")
        and getattr(record, "event", None) == "task_failed"
    )
