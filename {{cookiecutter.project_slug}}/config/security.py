"""HTTPS and the proxy in front: the variables of settings.py's security section.

https://docs.djangoproject.com/en/6.1/howto/deployment/checklist/
https://docs.gunicorn.org/en/stable/settings.html#forwarded-allow-ips
"""

from pydantic import Field

from config.variables import EnvPart


class SecurityEnv(EnvPart):
    SECURE_SSL_REDIRECT: bool = Field(True, description="Redirect plain HTTP to HTTPS.")
    SECURE_HSTS_SECONDS: int = Field(
        31_536_000, ge=0, description="How long browsers must use HTTPS only (HSTS)."
    )
    SECURE_HSTS_INCLUDE_SUBDOMAINS: bool = Field(
        True,
        description="HSTS covers every subdomain too; turn off only while some are not HTTPS.",
    )
    SECURE_HSTS_PRELOAD: bool = Field(
        False, description="Ask to be put on browsers' HSTS preload lists."
    )
    FORWARDED_ALLOW_IPS: str = Field(
        "127.0.0.1,::1",
        description="Proxy addresses or networks trusted for X-Forwarded-Proto and -For ('*' "
        "when only the platform's router can reach the app).",
    )
