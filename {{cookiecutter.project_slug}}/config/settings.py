"""Django settings: the one settings module, for every environment.

Deploys differ only in their environment, which config/env.py validates and documents.
https://docs.djangoproject.com/en/6.1/ref/settings/
"""

import logging.config

from django.utils.csp import CSP

from config.cache import cache_settings, session_engine
from config.database import database_settings
from config.email import mailers
from config.env import BASE_DIR, load, secret_key_fallbacks
from config.errors import start_error_reporting
from config.logs import logging_config
from config.signin import SIGN_IN_COOL_OFF, SIGN_IN_FAILURE_LIMIT
from config.storage import media_storage
from config.tasks import tasks_settings, worker_options
from config.telemetry import trace_tasks, tracing

env = load()

# Core
SECRET_KEY = env.DJANGO_SECRET_KEY.get_secret_value()
# Earlier keys still verify what they signed (sessions, reset links) during a rotation.
# https://docs.djangoproject.com/en/6.1/ref/settings/#secret-key-fallbacks
SECRET_KEY_FALLBACKS = secret_key_fallbacks(env.DJANGO_SECRET_KEY_FALLBACKS)
DEBUG = env.DEBUG
ALLOWED_HOSTS = env.ALLOWED_HOSTS
CSRF_TRUSTED_ORIGINS = env.CSRF_TRUSTED_ORIGINS
GIT_REVISION = env.GIT_REVISION
# The web server's processes (gunicorn.conf.py reads the same variable); the
# twelve-factor checks weigh a process-local cache against it.
WEB_CONCURRENCY = env.WEB_CONCURRENCY
# Bodies over this are refused before anything stores them (config/requestbody.py, in
# front of Django under both interfaces); below it, Django's own limits apply.
# https://docs.djangoproject.com/en/6.1/ref/settings/#data-upload-max-memory-size
WEB_MAX_BODY_BYTES = env.WEB_MAX_BODY_BYTES

INSTALLED_APPS = [
    # First, so its sign-in and password-reset pages replace the admin's.
    "users",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "config.apps.ConfigConfig",
    "axes",
    "django_ox",
    "waffle",
    "{{ cookiecutter.project_slug }}",
]

MIDDLEWARE = [
    "config.requestid.RequestIdMiddleware",
    # Before host validation and the HTTPS redirect: probes come by IP, over HTTP.
    "config.health.HealthCheckMiddleware",
    # After the probes, which make no span; unused unless telemetry is on.
    "config.tracedrequests.RequestSpans",
    "config.proxies.UntrustedProxyWarningMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.crossorigin.CrossOriginResourcePolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "config.flags.FlagCookieMiddleware",
    # Last, as its documentation asks: it turns a locked-out sign-in into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# No WSGI_APPLICATION: gunicorn.conf.py names the served application, and without it
# `runserver` builds Django's own handler, so it works for either web interface.

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
# Applied by serving processes only (config/database.py), never by migrations or
# one-off commands.
DATABASE_STATEMENT_TIMEOUT = env.DATABASE_STATEMENT_TIMEOUT
# The release step's (config/management/commands/release.py).
DATABASE_LOCK_TIMEOUT = env.DATABASE_LOCK_TIMEOUT
DATABASE_MIGRATION_ATTEMPTS = env.DATABASE_MIGRATION_ATTEMPTS

# Passwords: Django's four validators, as `startproject` ships them.
# https://docs.djangoproject.com/en/6.1/topics/auth/passwords/#module-django.contrib.auth.password_validation
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Users: the project's own model, sign-in and password reset at /accounts/
# https://docs.djangoproject.com/en/6.1/topics/auth/customizing/
AUTH_USER_MODEL = "users.User"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Sign-in throttling: django-axes, config/signin.py
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account and address before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = SIGN_IN_FAILURE_LIMIT
AXES_COOLOFF_TIME = SIGN_IN_COOL_OFF
# Per account *and* address: an attacker can neither lock a user out from everywhere
# (as per-account locking would let them) nor, by trying one password on many
# accounts, lock out every user behind the same address (as per-address would).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Rows in the database, not the cache: every process counts the same attempts, and a
# cache outage neither wipes them nor lets attempts through.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# The address the access log shows: the peer's, or the client's from X-Forwarded-For
# when the peer is a trusted proxy (FORWARDED_ALLOW_IPS); never a header from anyone else.
AXES_CLIENT_IP_CALLABLE = "config.signin.request_client_address"
FORWARDED_ALLOW_IPS = [entry.strip() for entry in env.FORWARDED_ALLOW_IPS.split(",")]
# The 429 page (users/locked_out.html) with a Retry-After header.
AXES_LOCKOUT_CALLABLE = "config.signin.lockout_response"
# A row per successful sign-in, kept forever, is not needed to throttle.
AXES_DISABLE_ACCESS_LOG = True

# Cache and sessions: config/cache.py
CACHES = cache_settings(env.CACHE_URL.get_secret_value(), env.CACHE_SSL_CERT_REQS)
SESSION_ENGINE = session_engine(env.CACHE_URL.get_secret_value())

# Feature flags: django-waffle, config/flags.py. A flag nobody created is off.
# https://waffle.readthedocs.io/en/stable/starting/configuring.html
WAFFLE_FLAG_DEFAULT = False
WAFFLE_CREATE_MISSING_FLAGS = False
# The rollout cookie travels over HTTPS only, like the session's.
WAFFLE_SECURE = not DEBUG

# Email: config/email.py
MAILERS = mailers(env.EMAIL_URL.get_secret_value())
DEFAULT_FROM_EMAIL = env.DEFAULT_FROM_EMAIL
SERVER_EMAIL = env.SERVER_EMAIL or DEFAULT_FROM_EMAIL
ADMINS = env.ADMINS

# Background tasks and the worker process: config/tasks.py
# With tracing on, a task's trace continues its enqueuer's (config/telemetry.py).
TASKS = trace_tasks(tasks_settings(env), env)
TASKS_WORKER = worker_options(env)

# Uploaded files: config/storage.py. Static files are served by whitenoise before
# Django's middleware (config/staticfiles.py); hashed names get far-future caching.
# https://whitenoise.readthedocs.io/en/stable/django.html
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": media_storage(env),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Pages link the hashed names only, so collectstatic keeps no copy under the original
# name: half the collected files, and of the image.
# https://whitenoise.readthedocs.io/en/stable/django.html#WHITENOISE_KEEP_ONLY_HASHED_FILES
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
# Uploads on the local disk, in development only (git- and docker-ignored).
MEDIA_ROOT = BASE_DIR / "media"
MEDIA_URL = "media/"

# Security
# https://docs.djangoproject.com/en/6.1/howto/deployment/checklist/
# HTTPS is known from X-Forwarded-Proto only when the proxy's address is trusted:
# gunicorn checks FORWARDED_ALLOW_IPS and sets the request's scheme accordingly.
SECURE_SSL_REDIRECT = env.SECURE_SSL_REDIRECT
SECURE_HSTS_SECONDS = env.SECURE_HSTS_SECONDS
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.SECURE_HSTS_INCLUDE_SUBDOMAINS
SECURE_HSTS_PRELOAD = env.SECURE_HSTS_PRELOAD
# Preloading binds every subdomain to HTTPS for months, a commitment only the domain's
# owner can make (SECURE_HSTS_PRELOAD=true); until then, Django's reminder is noise.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
X_FRAME_OPTIONS = "DENY"
# Nothing is allowed unless listed: the pages load their own scripts (the admin's carry
# the per-response nonce), stylesheets and images, and post forms to themselves.
# https://docs.djangoproject.com/en/6.1/ref/csp/
SECURE_CSP = {
    "default-src": [CSP.NONE],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
}

# Error reporting, when SENTRY_DSN is set: config/errors.py
start_error_reporting(env, release=GIT_REVISION)

# Logging: one stream on stdout, configured here rather than merged into Django's
# defaults, which would also write to stderr and email admins.
# https://docs.djangoproject.com/en/6.1/topics/logging/#disabling-logging-configuration
LOGGING_CONFIG = None
logging.config.dictConfig(logging_config(env.LOG_LEVEL, env.LOG_FORMAT, tracing=tracing(env)))
# Python's warnings too, which would otherwise bypass logging on stderr.
logging.captureWarnings(True)
