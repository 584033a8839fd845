"""Error reporting to Sentry (or a service that speaks its protocol), when SENTRY_DSN is set.

Unset, nothing is imported or started. Reports carry the release (GIT_REVISION) and no
personal data: no cookies, no user's details.
https://docs.sentry.io/platforms/python/integrations/django/
"""

from config.env import Env


def start_error_reporting(env: Env) -> None:
    dsn = env.SENTRY_DSN.get_secret_value()
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        release=env.GIT_REVISION,
        environment=env.SENTRY_ENVIRONMENT,
        integrations=[DjangoIntegration()],
        # Personal data stays out of reports unless someone decides otherwise, with a
        # reason and a privacy notice to match.
        send_default_pii=False,
        # Errors only: performance tracing has its own cost and quota, a separate choice.
        traces_sample_rate=None,
    )
