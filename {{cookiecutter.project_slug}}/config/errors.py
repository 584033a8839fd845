"""Error reporting to Sentry (or a service that speaks its protocol), when SENTRY_DSN is set.

Unset, nothing is imported or started. Reports carry the release (GIT_REVISION) and no
personal data: no cookies, no user's details.
https://docs.sentry.io/platforms/python/integrations/django/
"""

from pydantic import Field, SecretStr, field_validator

from config.variables import EnvPart


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

    sentry_sdk.init(
        dsn=dsn,
        release=release,
        environment=env.SENTRY_ENVIRONMENT,
        integrations=[DjangoIntegration()],
        # Personal data stays out of reports unless someone decides otherwise, with a
        # reason and a privacy notice to match.
        send_default_pii=False,
        # Errors only: performance tracing has its own cost and quota, a separate choice.
        traces_sample_rate=None,
    )
