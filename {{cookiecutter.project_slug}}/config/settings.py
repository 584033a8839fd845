"""Django settings: the one settings module, for every environment.

Deploys differ only in their environment, which config/env.py validates and documents.
https://docs.djangoproject.com/en/6.1/ref/settings/
"""

import logging.config

from django.utils.csp import CSP

from config.database import database_settings
from config.env import BASE_DIR, load
from config.logs import logging_config

env = load()

# Core
SECRET_KEY = env.DJANGO_SECRET_KEY.get_secret_value()
DEBUG = env.DEBUG
ALLOWED_HOSTS = env.ALLOWED_HOSTS
CSRF_TRUSTED_ORIGINS = env.CSRF_TRUSTED_ORIGINS
GIT_REVISION = env.GIT_REVISION

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "{{ cookiecutter.project_slug }}",
]

MIDDLEWARE = [
    "config.requestid.RequestIdMiddleware",
    # Before host validation and the HTTPS redirect: probes come by IP, over HTTP.
    "config.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Database: config/database.py
DATABASES = {"default": database_settings(env)}

# Static files, served by whitenoise before Django's middleware (config/staticfiles.py);
# hashed names get far-future caching.
# https://whitenoise.readthedocs.io/en/stable/django.html
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Security
# https://docs.djangoproject.com/en/6.1/howto/deployment/checklist/
# HTTPS is known from X-Forwarded-Proto only when the proxy's address is trusted:
# gunicorn checks FORWARDED_ALLOW_IPS and sets the request's scheme accordingly.
SECURE_SSL_REDIRECT = env.SECURE_SSL_REDIRECT
SECURE_HSTS_SECONDS = env.SECURE_HSTS_SECONDS
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.SECURE_HSTS_PRELOAD
# Preloading binds every subdomain to HTTPS for months, a commitment only the domain's
# owner can make (SECURE_HSTS_PRELOAD=true); until then, Django's reminder is noise.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# https://docs.djangoproject.com/en/6.1/ref/csp/
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Logging: one stream on stdout, configured here rather than merged into Django's
# defaults, which would also write to stderr and email admins.
# https://docs.djangoproject.com/en/6.1/topics/logging/#disabling-logging-configuration
LOGGING_CONFIG = None
logging.config.dictConfig(logging_config(env.LOG_LEVEL, env.LOG_FORMAT))
# Python's warnings too, which would otherwise bypass logging on stderr.
logging.captureWarnings(True)
