"""Offline re-implementation of the MDN HTTP Observatory grading rules.

The MDN HTTP Observatory (github.com/mdn/mdn-http-observatory, the successor of
mozilla/http-observatory) fetches a site itself and grades what it sees.  This
module grades what *one* HTTP response (plus, optionally, the redirect chain
that led to it) shows, so that the template's test suite can check a baked
Django project without network access.  It is standard library only.

Written from a reading of the grader's source, not copied from it.  It mirrors
the score table of release 1.5.0 (algorithm version 5, where a plain
``X-Frame-Options: DENY``/``SAMEORIGIN`` became worth +5).

Scoring
-------
Every site starts at 100.  Each of the ten tests yields one result id with a
modifier (see ``MODIFIERS``).  Penalties (negative modifiers) are always
applied; bonuses are only added when the score after penalties is still at
least 90.  The final score is clamped at 0 and mapped to a letter with
``GRADE_BANDS`` (100+ is A+).

Inputs and what cannot be seen from a single response
-----------------------------------------------------
``url``/``status``/``headers``/``body`` describe the final response (the
grader's "auto" response).  ``redirects`` lists the hops *before* it, each as
``(request_url, status, response_headers)``; when the first hop is a plain
``http://`` URL the chain is the grader's HTTP redirect route.

* cross-origin-resource-sharing: the grader sends its own ``OPTIONS``
  request with an ``Origin`` header.  Pass ``cors_preflight=(origin,
  headers)`` to evaluate one; otherwise the test is reported as the grader
  reports an absent ``Access-Control-Allow-Origin`` (0), and the reason says
  it was not evaluated.
* redirection: for an https URL without an ``http://`` chain the test is
  reported as ``redirection-not-needed-no-http`` (0), which is what the
  grader says for an HTTPS-only site; the reason says no chain was given.
* HSTS preload list: the +5 ``hsts-preloaded`` needs the host to be on the
  Chromium preload list; the ``preload`` directive alone earns nothing.
  Pass ``hsts_preload`` (hosts, or ``{host: include_subdomains}``).
* The grader also fetches ``/robots.txt`` to collect more cookies; only the
  cookies visible here are judged.
* ``html-not-parseable`` (-20) is not reproduced: ``html.parser`` never fails.

Deliberate, documented differences from the grader's code
----------------------------------------------------------
* Several CSP policies (several headers, comma-separated policies, ``<meta
  http-equiv>`` policies) are combined as a browser enforces them: for each
  directive, every policy's effective source list (after fetch-directive
  fallback to ``default-src``) is intersected.  The grader intersects
  directive by directive without fallback; results agree on its own tests.
* ``frame-ancestors`` in ``<meta>`` never counts, also not for the
  X-Frame-Options test.
* ``max-age`` that is not a number makes the HSTS header invalid.
* Registrable domains (for SRI) use a small list of multi-label public
  suffixes (``MULTI_LABEL_PUBLIC_SUFFIXES``) instead of the full list.
* Cookie handling approximates the grader's cookie jar: cookies from the
  final response and from redirect hops with the same scheme are judged,
  the last cookie with a given name/domain/path wins, cookies whose Domain
  does not match the host are dropped, and the raw ``SameSite`` check runs on
  every judged ``Set-Cookie`` line.

Headers that appear more than once are combined the way Node.js (which the
grader runs on) combines them: joined with ", ", except that ``Set-Cookie``
stays a list and a few headers (``Content-Type`` among them) keep the first
value.  So a doubled ``X-Frame-Options: DENY`` becomes ``DENY, DENY``, which
the grader rejects as invalid.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

__all__ = [
    "ALGORITHM_VERSION",
    "BASELINE_SCORE",
    "GRADE_BANDS",
    "MINIMUM_SCORE_FOR_EXTRA_CREDIT",
    "MODIFIERS",
    "PASSING_RESULTS",
    "TEST_NAMES",
    "Report",
    "ScanRefused",
    "TestResult",
    "grade_for",
    "score",
]

ALGORITHM_VERSION = 5
BASELINE_SCORE = 100
MINIMUM_SCORE_FOR_EXTRA_CREDIT = 90

# (lowest score of the band, grade); scores are floored to a multiple of 5.
GRADE_BANDS: tuple[tuple[int, str], ...] = (
    (100, "A+"),
    (90, "A"),
    (85, "A-"),
    (80, "B+"),
    (70, "B"),
    (65, "B-"),
    (60, "C+"),
    (50, "C"),
    (45, "C-"),
    (40, "D+"),
    (30, "D"),
    (25, "D-"),
    (0, "F"),
)

TEST_NAMES: tuple[str, ...] = (
    "content-security-policy",
    "cookies",
    "cross-origin-resource-sharing",
    "redirection",
    "referrer-policy",
    "strict-transport-security",
    "subresource-integrity",
    "x-content-type-options",
    "x-frame-options",
    "cross-origin-resource-policy",
)

MODIFIERS: dict[str, int] = {
    # content-security-policy
    "csp-implemented-with-no-unsafe-default-src-none": 10,
    "csp-implemented-with-no-unsafe": 5,
    "csp-implemented-with-unsafe-inline-in-style-src-only": 0,
    "csp-implemented-but-duplicate-directives": 0,
    "csp-implemented-with-insecure-scheme-in-passive-content-only": -10,
    "csp-implemented-with-unsafe-eval": -10,
    "csp-implemented-with-unsafe-inline": -20,
    "csp-implemented-with-insecure-scheme": -20,
    "csp-header-invalid": -25,
    "csp-not-implemented": -25,
    "csp-not-implemented-but-reporting-enabled": -25,
    # cookies
    "cookies-secure-with-httponly-sessions-and-samesite": 5,
    "cookies-secure-with-httponly-sessions": 0,
    "cookies-not-found": 0,
    "cookies-without-secure-flag-but-protected-by-hsts": -5,
    "cookies-session-without-secure-flag-but-protected-by-hsts": -10,
    "cookies-without-secure-flag": -20,
    "cookies-samesite-flag-invalid": -20,
    "cookies-anticsrf-without-samesite-flag": -20,
    "cookies-session-without-httponly-flag": -30,
    "cookies-session-without-secure-flag": -40,
    # cross-origin-resource-sharing
    "cross-origin-resource-sharing-not-implemented": 0,
    "cross-origin-resource-sharing-implemented-with-public-access": 0,
    "cross-origin-resource-sharing-implemented-with-restricted-access": 0,
    "cross-origin-resource-sharing-implemented-with-universal-access": -50,
    # redirection
    "redirection-all-redirects-preloaded": 0,
    "redirection-to-https": 0,
    "redirection-not-needed-no-http": 0,
    "redirection-off-host-from-http": -5,
    "redirection-not-to-https-on-initial-redirection": -10,
    "redirection-not-to-https": -20,
    "redirection-missing": -20,
    "redirection-invalid-cert": -20,
    # referrer-policy
    "referrer-policy-private": 5,
    "referrer-policy-not-implemented": 0,
    "referrer-policy-unsafe": -5,
    "referrer-policy-header-invalid": -5,
    # strict-transport-security
    "hsts-preloaded": 5,
    "hsts-implemented-max-age-at-least-six-months": 0,
    "hsts-implemented-max-age-less-than-six-months": -10,
    "hsts-not-implemented": -20,
    "hsts-header-invalid": -20,
    "hsts-not-implemented-no-https": -20,
    "hsts-invalid-cert": -20,
    # subresource-integrity
    "sri-implemented-and-all-scripts-loaded-securely": 5,
    "sri-implemented-and-external-scripts-loaded-securely": 5,
    "sri-not-implemented-response-not-html": 0,
    "sri-not-implemented-but-no-scripts-loaded": 0,
    "sri-not-implemented-but-all-scripts-loaded-from-secure-origin": 0,
    "sri-not-implemented-but-external-scripts-loaded-securely": -5,
    "sri-implemented-but-external-scripts-not-loaded-securely": -20,
    "sri-not-implemented-and-external-scripts-not-loaded-securely": -50,
    # x-content-type-options
    "x-content-type-options-nosniff": 0,
    "x-content-type-options-not-implemented": -5,
    "x-content-type-options-header-invalid": -5,
    # x-frame-options
    "x-frame-options-implemented-via-csp": 5,
    "x-frame-options-sameorigin-or-deny": 5,
    "x-frame-options-allow-from-origin": 0,
    "x-frame-options-not-implemented": -20,
    "x-frame-options-header-invalid": -20,
    # cross-origin-resource-policy
    "corp-implemented-with-same-origin": 10,
    "corp-implemented-with-same-site": 10,
    "corp-implemented-with-cross-origin": 0,
    "corp-not-implemented": 0,
    "corp-header-invalid": -5,
}

# Results the grader counts as a passed test (this only feeds the
# passed/failed counters, never the score).
PASSING_RESULTS: frozenset[str] = frozenset(
    {
        "csp-implemented-with-no-unsafe-default-src-none",
        "csp-implemented-with-no-unsafe",
        "csp-implemented-with-unsafe-inline-in-style-src-only",
        "csp-implemented-with-insecure-scheme-in-passive-content-only",
        "csp-implemented-but-duplicate-directives",
        "cookies-secure-with-httponly-sessions-and-samesite",
        "cookies-secure-with-httponly-sessions",
        "cookies-not-found",
        "cross-origin-resource-sharing-not-implemented",
        "cross-origin-resource-sharing-implemented-with-public-access",
        "cross-origin-resource-sharing-implemented-with-restricted-access",
        "redirection-all-redirects-preloaded",
        "redirection-to-https",
        "redirection-not-needed-no-http",
        "referrer-policy-private",
        "referrer-policy-not-implemented",
        "hsts-preloaded",
        "hsts-implemented-max-age-at-least-six-months",
        "sri-implemented-and-all-scripts-loaded-securely",
        "sri-implemented-and-external-scripts-loaded-securely",
        "sri-not-implemented-response-not-html",
        "sri-not-implemented-but-no-scripts-loaded",
        "sri-not-implemented-but-all-scripts-loaded-from-secure-origin",
        "x-content-type-options-nosniff",
        "x-frame-options-implemented-via-csp",
        "x-frame-options-sameorigin-or-deny",
        "x-frame-options-allow-from-origin",
        "corp-implemented-with-same-origin",
        "corp-implemented-with-same-site",
        "corp-implemented-with-cross-origin",
        "corp-not-implemented",
    }
)

# ICANN public suffixes with more than one label that commonly show up.  The
# grader uses the full Public Suffix List (ICANN section only); extend this
# set if a test needs another one.
MULTI_LABEL_PUBLIC_SUFFIXES: set[str] = {
    "ac.uk",
    "co.uk",
    "gov.uk",
    "ltd.uk",
    "me.uk",
    "net.uk",
    "org.uk",
    "plc.uk",
    "com.au",
    "edu.au",
    "gov.au",
    "net.au",
    "org.au",
    "co.nz",
    "net.nz",
    "org.nz",
    "co.jp",
    "ne.jp",
    "or.jp",
    "ac.jp",
    "co.kr",
    "or.kr",
    "co.in",
    "net.in",
    "org.in",
    "co.za",
    "org.za",
    "com.br",
    "net.br",
    "org.br",
    "com.cn",
    "net.cn",
    "org.cn",
    "com.mx",
    "com.ar",
    "com.tr",
    "com.tw",
    "com.hk",
    "com.sg",
    "com.my",
    "co.il",
    "co.id",
    "com.pl",
    "com.es",
    "com.ua",
}


class ScanRefused(ValueError):
    """The grader refuses to grade a response with this status code."""


@dataclass(frozen=True)
class TestResult:
    """The outcome of one Observatory test."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    result: str
    modifier: int
    passed: bool
    reason: str

    def __str__(self) -> str:
        return f"{self.modifier:+4d}  {self.name}: {self.result} ({self.reason})"


@dataclass(frozen=True)
class Report:
    """Score, grade and per-test results for one graded response."""

    url: str
    score: int
    grade: str
    uncurved_score: int
    tests: tuple[TestResult, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def bonus_applied(self) -> bool:
        return self.uncurved_score >= MINIMUM_SCORE_FOR_EXTRA_CREDIT

    @property
    def tests_passed(self) -> int:
        return sum(1 for t in self.tests if t.passed)

    @property
    def tests_failed(self) -> int:
        return len(self.tests) - self.tests_passed

    @property
    def modifiers(self) -> dict[str, int]:
        return {t.name: t.modifier for t in self.tests}

    @property
    def results(self) -> dict[str, str]:
        return {t.name: t.result for t in self.tests}

    def __getitem__(self, name: str) -> TestResult:
        for test in self.tests:
            if test.name == name:
                return test
        raise KeyError(name)

    def explain(self) -> str:
        """A multi-line summary, handy as an assertion message."""
        lines = [
            f"{self.url}: {self.score} ({self.grade}), penalties-only score {self.uncurved_score}"
        ]
        lines += [f"  {t}" for t in self.tests]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def grade_for(points: int) -> str:
    """The letter the grader gives to a final score."""
    points = max(points, 0)
    floored = min(points - points % 5, 100)
    for lowest, grade in GRADE_BANDS:
        if floored >= lowest:
            return grade
    return "F"  # pragma: no cover - the last band starts at 0


# --------------------------------------------------------------------------
# Header plumbing
# --------------------------------------------------------------------------

# Node.js keeps only the first of these when a response repeats them.
_NODE_KEEP_FIRST = frozenset(
    {
        "age",
        "authorization",
        "content-length",
        "content-type",
        "etag",
        "expires",
        "from",
        "host",
        "if-modified-since",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "proxy-authorization",
        "referer",
        "retry-after",
        "server",
        "user-agent",
    }
)

HeaderList = Sequence[tuple[str, str]]


def _header_items(headers: HeaderList | Mapping[str, str]) -> list[tuple[str, str]]:
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


@dataclass
class _Headers:
    combined: dict[str, str]
    set_cookie: list[str]

    def get(self, name: str) -> str | None:
        return self.combined.get(name)


def _combine(headers: HeaderList | Mapping[str, str]) -> _Headers:
    combined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in _header_items(headers):
        key = name.strip().lower()
        if key == "set-cookie":
            cookies.append(value)
        elif key not in combined:
            combined[key] = value
        elif key not in _NODE_KEEP_FIRST:
            combined[key] = f"{combined[key]}, {value}"
    return _Headers(combined, cookies)


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".")


# --------------------------------------------------------------------------
# HTML: <meta> policies and <script> tags
# --------------------------------------------------------------------------


class _PageScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta_csp: list[str] = []
        self.meta_referrer: str | None = None
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k.lower(): v for k, v in attrs}
        if tag == "meta":
            content = attributes.get("content")
            if "http-equiv" in attributes and "content" in attributes:
                equiv = (attributes.get("http-equiv") or "").strip().lower()
                if content and equiv == "content-security-policy":
                    self.meta_csp.append(content)
            elif (attributes.get("name") or "").strip().lower() == "referrer" and content:
                self.meta_referrer = content
        elif tag == "script":
            self.scripts.append(attributes)

    handle_startendtag = handle_starttag


def _scan_page(body: str) -> _PageScanner:
    scanner = _PageScanner()
    scanner.feed(body or "")
    scanner.close()
    return scanner


def _is_html(headers: _Headers) -> bool:
    mime = (headers.get("content-type") or "").split(";")[0].strip().lower()
    return mime in {"text/html", "application/xhtml+xml"}


# --------------------------------------------------------------------------
# Content Security Policy
# --------------------------------------------------------------------------

_DANGEROUSLY_BROAD = frozenset(
    {"ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*"}
)
_UNSAFE_INLINE = frozenset({"'unsafe-inline'", "data:"})
_BROAD_OR_INLINE = _DANGEROUSLY_BROAD | _UNSAFE_INLINE
_PASSIVE_DIRECTIVES = ("img-src", "media-src")
_NONCE_OR_HASH = ("'sha256-", "'sha384-", "'sha512-", "'nonce-")
_MIN_POLICY_LENGTH = len("img-src") - 1
_ALLOWED_DUPLICATES = frozenset({"report-uri", "report-to"})
_IGNORED_IN_META = ("frame-ancestors", "report-uri", "sandbox")
_NONE = frozenset({"'none'"})

# Fetch directives fall back along these chains when a policy lacks them.
_FALLBACK: dict[str, tuple[str, ...]] = {
    "script-src-elem": ("script-src", "default-src"),
    "script-src-attr": ("script-src", "default-src"),
    "style-src-elem": ("style-src", "default-src"),
    "style-src-attr": ("style-src", "default-src"),
    "worker-src": ("child-src", "script-src", "default-src"),
    "frame-src": ("child-src", "default-src"),
    **{
        d: ("default-src",)
        for d in (
            "child-src",
            "connect-src",
            "fenced-frame-src",
            "font-src",
            "img-src",
            "manifest-src",
            "media-src",
            "object-src",
            "prefetch-src",
            "script-src",
            "style-src",
        )
    },
}
_SCRIPT_OR_STYLE = frozenset(
    {
        "script-src",
        "script-src-elem",
        "script-src-attr",
        "style-src",
        "style-src-elem",
        "style-src-attr",
    }
)


class _CspSyntaxError(ValueError):
    pass


@dataclass
class _Policy:
    directives: dict[str, frozenset[str]]
    duplicate_reports: set[str]
    from_meta: bool


def _has_nonce_or_hash(sources: Iterable[str]) -> bool:
    return any(s.startswith(_NONCE_OR_HASH) for s in sources)


def _parse_policy(text: str, *, from_meta: bool) -> _Policy:
    cleaned = text.replace("\r", "").replace("\n", "").strip()
    if len(cleaned) < _MIN_POLICY_LENGTH:
        raise _CspSyntaxError(f"policy {cleaned!r} is empty or too short")
    directives: dict[str, frozenset[str]] = {}
    duplicates: set[str] = set()
    for chunk in cleaned.split(";"):
        tokens = chunk.split()
        if not tokens:
            continue
        name = tokens[0].lower()
        if name in directives:
            if name in _ALLOWED_DUPLICATES:
                duplicates.add(name)
                continue
            raise _CspSyntaxError(f"directive {name} appears twice in one policy")
        sources = frozenset(t.lower() for t in tokens[1:])
        directives[name] = sources or _NONE
    if from_meta:
        for name in _IGNORED_IN_META:
            directives.pop(name, None)
    return _Policy(directives, duplicates, from_meta)


def _effective(policy: _Policy, directive: str) -> frozenset[str] | None:
    sources = policy.directives.get(directive)
    if sources is None:
        for fallback in _FALLBACK.get(directive, ()):
            if fallback in policy.directives:
                sources = policy.directives[fallback]
                break
    if sources is not None and directive in _SCRIPT_OR_STYLE and _has_nonce_or_hash(sources):
        sources = sources - {"'unsafe-inline'"}
    return sources


def _covers(general: str, specific: str) -> bool:
    if general == specific:
        return True
    if unquote(general) == unquote(specific):
        return True
    # A source ending in "/" allows every path below it.
    return (
        "://" in general
        and general.endswith("/")
        and unquote(specific).startswith(unquote(general))
    )


def _intersect(a: frozenset[str], b: frozenset[str]) -> frozenset[str]:
    if a == _NONE or b == _NONE:
        return _NONE
    kept = {x for x in a if any(_covers(y, x) for y in b)}
    kept |= {y for y in b if any(_covers(x, y) for x in a)}
    # keep only the most specific of nested sources
    kept = {s for s in kept if not any(o != s and _covers(s, o) for o in kept)}
    return frozenset(kept) or _NONE


def _merge(policies: Sequence[_Policy]) -> dict[str, frozenset[str]]:
    names: list[str] = []
    for policy in policies:
        names += [n for n in policy.directives if n not in names]
    merged: dict[str, frozenset[str]] = {}
    for name in names:
        lists = [s for p in policies if (s := _effective(p, name)) is not None]
        result = lists[0]
        for other in lists[1:]:
            result = _intersect(result, other)
        merged[name] = result
    return merged


@dataclass
class _CspOutcome:
    result: str
    reason: str
    directives: dict[str, frozenset[str]] | None  # None when not implemented/invalid


def _csp_test(url: str, headers: _Headers, page: _PageScanner | None) -> _CspOutcome:
    header_value = headers.get("content-security-policy")
    header_texts = [p.strip() for p in header_value.split(",")] if header_value is not None else []
    meta_texts = list(page.meta_csp) if page else []
    origin = f"{len(header_texts)} header polic{'y' if len(header_texts) == 1 else 'ies'}" + (
        f" + {len(meta_texts)} from <meta http-equiv>" if meta_texts else ""
    )

    try:
        policies = [_parse_policy(t, from_meta=False) for t in header_texts]
        policies += [_parse_policy(t, from_meta=True) for t in meta_texts]
    except _CspSyntaxError as exc:
        return _CspOutcome("csp-header-invalid", f"cannot parse the CSP: {exc}", None)

    if not any(p.directives for p in policies):
        if headers.get("content-security-policy-report-only"):
            return _CspOutcome(
                "csp-not-implemented-but-reporting-enabled",
                "only Content-Security-Policy-Report-Only is sent; nothing is enforced",
                None,
            )
        extra = (
            " (a <meta> policy with only header-only directives does not count)"
            if meta_texts
            else ""
        )
        return _CspOutcome("csp-not-implemented", "no Content-Security-Policy header" + extra, None)

    csp = _merge([p for p in policies if p.directives])
    star = frozenset({"*"})

    def pick(*names: str) -> frozenset[str]:
        for n in names:
            if n in csp:
                return csp[n]
        return star

    script_src = set(pick("script-src", "default-src"))
    style_src = set(pick("style-src", "default-src"))
    object_src = pick("object-src", "default-src")

    for sources in (script_src, style_src):
        if _has_nonce_or_hash(sources):
            sources.discard("'unsafe-inline'")

    result: str | None = None
    reason = ""

    def flag(candidate: str, why: str) -> None:
        nonlocal result, reason
        if result is None:
            result, reason = candidate, why

    if "'strict-dynamic'" in script_src:
        if _has_nonce_or_hash(script_src):
            script_src = {
                s
                for s in script_src
                if not (
                    s.startswith(tuple(_DANGEROUSLY_BROAD)) or s in {"'self'", "'unsafe-inline'"}
                )
            }
        else:
            flag("csp-header-invalid", "'strict-dynamic' without a nonce or hash in script-src")

    active = [
        s
        for name, srcs in csp.items()
        if name not in _PASSIVE_DIRECTIVES and name != "script-src"
        for s in srcs
    ]
    active += script_src
    passive = [
        s
        for name in _PASSIVE_DIRECTIVES
        for s in csp.get(name, csp.get("default-src", frozenset()))
    ]
    https_site = _scheme(url) == "https"

    bad_script = sorted(script_src & _BROAD_OR_INLINE)
    bad_object = sorted(object_src & _DANGEROUSLY_BROAD)
    if bad_script or bad_object:
        parts = []
        if bad_script:
            where = (
                "script-src"
                if "script-src" in csp
                else ("default-src" if "default-src" in csp else "script-src (unset)")
            )
            parts.append(f"{where} allows {' '.join(bad_script)}")
        if bad_object:
            where = (
                "object-src"
                if "object-src" in csp
                else ("default-src" if "default-src" in csp else "object-src (unset)")
            )
            parts.append(f"{where} allows {' '.join(bad_object)}")
        flag("csp-implemented-with-unsafe-inline", "; ".join(parts))

    insecure_active = sorted({s for s in active if s.startswith(("http:", "ftp:"))})
    if https_site and insecure_active:
        flag(
            "csp-implemented-with-insecure-scheme",
            f"HTTPS site allows active content from {' '.join(insecure_active)}",
        )

    if "'unsafe-eval'" in script_src | style_src:
        flag("csp-implemented-with-unsafe-eval", "script-src/style-src allows 'unsafe-eval'")

    insecure_passive = sorted({s for s in passive if s.startswith(("http:", "ftp:"))})
    if https_site and insecure_passive:
        flag(
            "csp-implemented-with-insecure-scheme-in-passive-content-only",
            f"HTTPS site allows images/media from {' '.join(insecure_passive)}",
        )

    bad_style = sorted(style_src & _BROAD_OR_INLINE)
    if bad_style:
        flag(
            "csp-implemented-with-unsafe-inline-in-style-src-only",
            f"style-src allows {' '.join(bad_style)}",
        )

    if csp.get("default-src") == _NONE:
        flag(
            "csp-implemented-with-no-unsafe-default-src-none",
            f"default-src 'none' and nothing unsafe ({origin})",
        )
    else:
        flag(
            "csp-implemented-with-no-unsafe",
            f"no 'unsafe-inline'/'unsafe-eval' in script-src ({origin})",
        )

    assert result is not None
    duplicates = sorted(set().union(*(p.duplicate_reports for p in policies)))
    if result in PASSING_RESULTS and duplicates:
        result = "csp-implemented-but-duplicate-directives"
        reason = f"{' '.join(duplicates)} repeated in one policy (bonus withheld)"
    if any(p.from_meta for p in policies) and result not in {"csp-header-invalid"}:
        reason += "; <meta http-equiv> policies were combined with the headers"
    return _CspOutcome(result, reason, csp)


# --------------------------------------------------------------------------
# HSTS
# --------------------------------------------------------------------------

_SIX_MONTHS = 15552000  # the grader's (deliberately lenient) six months


def _preload_lookup(hsts_preload: Mapping[str, bool] | Iterable[str] | None) -> dict[str, bool]:
    if not hsts_preload:
        return {}
    if isinstance(hsts_preload, Mapping):
        return {h.lower().rstrip("."): bool(v) for h, v in hsts_preload.items()}
    return {h.lower().rstrip("."): True for h in hsts_preload}


def _is_preloaded(host: str, preload: dict[str, bool]) -> bool:
    if host in preload:
        return True
    labels = host.split(".")
    for i in range(1, len(labels)):
        parent = ".".join(labels[i:])
        if preload.get(parent):
            return True
    return False


def _hsts_test(
    url: str, headers: _Headers, *, tls_verified: bool, scanned_host: str, preload: dict[str, bool]
) -> tuple[str, str]:
    if _scheme(url) != "https":
        return (
            "hsts-not-implemented-no-https",
            "the response was not served over HTTPS, so HSTS cannot apply",
        )
    if _is_preloaded(scanned_host, preload):
        return "hsts-preloaded", f"{scanned_host} is on the HSTS preload list"
    if not tls_verified:
        return "hsts-invalid-cert", "the certificate chain is invalid, so browsers ignore HSTS"
    value = headers.get("strict-transport-security")
    if value is None:
        return "hsts-not-implemented", "no Strict-Transport-Security header"
    value = value[:1024]
    if "," in value:
        return "hsts-header-invalid", "Strict-Transport-Security is sent more than once"
    max_age: int | None = None
    flags = []
    for parameter in (p.strip().lower() for p in value.split(";")):
        if parameter.startswith("max-age="):
            raw = parameter[len("max-age=") :].strip().strip('"')
            if not raw.isdigit():
                return "hsts-header-invalid", f"max-age {raw!r} is not a number"
            max_age = int(raw)
        elif parameter in {"includesubdomains", "preload"}:
            flags.append("includeSubDomains" if parameter == "includesubdomains" else "preload")
    if max_age is None:
        return "hsts-header-invalid", "Strict-Transport-Security has no max-age"
    described = f"max-age={max_age}" + "".join(f"; {f}" for f in flags)
    if max_age < _SIX_MONTHS:
        return (
            "hsts-implemented-max-age-less-than-six-months",
            f"{described} is shorter than six months ({_SIX_MONTHS})",
        )
    note = " (the preload bonus needs the host on the preload list)" if "preload" in flags else ""
    return "hsts-implemented-max-age-at-least-six-months", f"{described}{note}"


# --------------------------------------------------------------------------
# Cookies
# --------------------------------------------------------------------------


@dataclass
class _Cookie:
    name: str
    secure: bool
    httponly: bool
    samesite: str | None


def _domain_matches(host: str, domain: str) -> bool:
    return host == domain or (host.endswith("." + domain) and not _is_ip(host))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _parse_set_cookie(raw: str, request_url: str) -> tuple[tuple[str, str, str], _Cookie] | None:
    pair, *attributes = raw.split(";")
    name, eq, _value = pair.partition("=")
    name = name.strip()
    if not eq or not name:
        return None
    host = _host(request_url)
    path = urlsplit(request_url).path or "/"
    default_path = path[: path.rfind("/")] or "/"
    domain, cookie_path = host, default_path
    secure = httponly = False
    samesite: str | None = None
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        key, val = key.strip().lower(), val.strip()
        if key == "secure":
            secure = True
        elif key == "httponly":
            httponly = True
        elif key == "samesite":
            samesite = val.lower() if val.lower() in {"strict", "lax", "none"} else None
        elif key == "domain" and val:
            wanted = val.lstrip(".").lower()
            if not _domain_matches(host, wanted):
                return None  # a jar refuses cookies for another domain
            domain = wanted
        elif key == "path" and val.startswith("/"):
            cookie_path = val
    return (domain, cookie_path, name), _Cookie(name, secure, httponly, samesite)


def _invalid_samesite(raw: str) -> bool:
    for part in raw.strip().split(";"):
        key, eq, value = part.strip().partition("=")
        if key.strip().lower() == "samesite":
            value = value.split("=")[0]
            if not eq or not value or value.strip().lower() not in {"lax", "strict", "none"}:
                return True
    return False


# Worst last, as the grader orders them (this is not the order of modifiers).
_COOKIE_SEVERITY = (
    "cookies-without-secure-flag-but-protected-by-hsts",
    "cookies-without-secure-flag",
    "cookies-session-without-secure-flag-but-protected-by-hsts",
    "cookies-samesite-flag-invalid",
    "cookies-anticsrf-without-samesite-flag",
    "cookies-session-without-httponly-flag",
    "cookies-session-without-secure-flag",
)
_IGNORED_COOKIES = frozenset({"heroku-session-affinity"})


def _cookies_test(
    cookie_lines: Sequence[tuple[str, str]], *, hsts_protects: bool
) -> tuple[str, str]:
    worst: str | None = None
    why: dict[str, str] = {}

    def worse(candidate: str, reason: str) -> None:
        nonlocal worst
        if worst is None or _COOKIE_SEVERITY.index(candidate) > _COOKIE_SEVERITY.index(worst):
            worst = candidate
        why.setdefault(candidate, reason)

    jar: dict[tuple[str, str, str], _Cookie] = {}
    for request_url, raw in cookie_lines:
        if _invalid_samesite(raw):
            worse(
                "cookies-samesite-flag-invalid",
                f"bad SameSite value in {raw.split(';')[0].split('=')[0].strip()!r}",
            )
        parsed = _parse_set_cookie(raw, request_url)
        if parsed is not None:
            key, cookie = parsed
            jar.pop(key, None)
            jar[key] = cookie

    cookies = [c for c in jar.values() if c.name not in _IGNORED_COOKIES]
    if not cookies:
        return "cookies-not-found", "no cookies set"

    missing_samesite = []
    for c in cookies:
        lowered = c.name.lower()
        session = "login" in lowered or "sess" in lowered
        anticsrf = "csrf" in lowered
        if not c.secure and c.samesite == "none":
            worse("cookies-samesite-flag-invalid", f"{c.name} has SameSite=None without Secure")
        if not c.secure:
            if hsts_protects:
                worse(
                    "cookies-without-secure-flag-but-protected-by-hsts",
                    f"{c.name} lacks Secure (HSTS covers it)",
                )
            else:
                worse(
                    "cookies-without-secure-flag",
                    f"{c.name} lacks Secure and HSTS does not protect it",
                )
        if anticsrf and not c.samesite:
            worse(
                "cookies-anticsrf-without-samesite-flag",
                f"anti-CSRF cookie {c.name} has no SameSite",
            )
        if session and not c.secure:
            if hsts_protects:
                worse(
                    "cookies-session-without-secure-flag-but-protected-by-hsts",
                    f"session cookie {c.name} lacks Secure (HSTS covers it)",
                )
            else:
                worse(
                    "cookies-session-without-secure-flag", f"session cookie {c.name} lacks Secure"
                )
        if session and not c.httponly:
            worse(
                "cookies-session-without-httponly-flag", f"session cookie {c.name} lacks HttpOnly"
            )
        if not c.samesite:
            missing_samesite.append(c.name)

    names = ", ".join(sorted(c.name for c in cookies))
    if worst is not None:
        return worst, why[worst]
    if missing_samesite:
        return (
            "cookies-secure-with-httponly-sessions",
            f"{', '.join(missing_samesite)} without SameSite (cookies: {names})",
        )
    return (
        "cookies-secure-with-httponly-sessions-and-samesite",
        f"all cookies Secure with SameSite, session cookies HttpOnly ({names})",
    )


# --------------------------------------------------------------------------
# Redirection
# --------------------------------------------------------------------------


def _redirection_test(
    url: str,
    redirects: Sequence[tuple[str, int, HeaderList]],
    *,
    tls_verified: bool,
    preload: dict[str, bool],
) -> tuple[str, str]:
    hop_urls = [hop[0] for hop in redirects]
    if hop_urls and _scheme(hop_urls[0]) == "http":
        route = hop_urls + [url]
    elif not hop_urls and _scheme(url) == "http":
        route = [url]
    else:
        return (
            "redirection-not-needed-no-http",
            "not applicable: no http:// request in the supplied chain "
            "(the grader reports this for sites it cannot reach over HTTP)",
        )
    shown = " -> ".join(route)
    if not tls_verified and any(_scheme(u) == "https" for u in route):
        return "redirection-invalid-cert", f"invalid certificate along {shown}"
    if all(_is_preloaded(_host(u), preload) for u in route):
        return "redirection-all-redirects-preloaded", f"every host in {shown} is preloaded"
    if len(route) == 1:
        return "redirection-missing", f"{route[0]} does not redirect to HTTPS"
    if _scheme(route[-1]) != "https":
        return "redirection-not-to-https", f"final destination is not HTTPS: {shown}"
    if _scheme(route[1]) == "http":
        return (
            "redirection-not-to-https-on-initial-redirection",
            f"first redirect stays on HTTP: {shown}",
        )
    if _host(route[0]) != _host(route[1]):
        return "redirection-off-host-from-http", f"first redirect leaves the host: {shown}"
    return "redirection-to-https", shown


# --------------------------------------------------------------------------
# Subresource Integrity
# --------------------------------------------------------------------------


def _registrable(host: str) -> str:
    host = host.lower().rstrip(".")
    if not host or _is_ip(host) or "." not in host:
        return host
    labels = host.split(".")
    suffix_len = 2 if ".".join(labels[-2:]) in MULTI_LABEL_PUBLIC_SUFFIXES else 1
    return ".".join(labels[-(suffix_len + 1) :])


_SRI_SEVERITY = (
    "sri-implemented-and-all-scripts-loaded-securely",
    "sri-implemented-and-external-scripts-loaded-securely",
    "sri-implemented-but-external-scripts-not-loaded-securely",
    "sri-not-implemented-but-external-scripts-loaded-securely",
    "sri-not-implemented-and-external-scripts-not-loaded-securely",
    "sri-not-implemented-response-not-html",
)


def _sri_test(
    url: str, headers: _Headers, page: _PageScanner | None, scanned_host: str
) -> tuple[str, str]:
    if page is None:
        return "sri-not-implemented-response-not-html", "the response is not HTML"
    if not page.scripts:
        return "sri-not-implemented-but-no-scripts-loaded", "no <script> elements in the body"

    result: str | None = None
    reasons: dict[str, str] = {}
    foreign = False
    site = _registrable(scanned_host)

    def worse(candidate: str, why: str) -> None:
        nonlocal result
        if result is None or _SRI_SEVERITY.index(candidate) > _SRI_SEVERITY.index(result):
            result = candidate
        reasons.setdefault(candidate, why)

    for script in page.scripts:
        src = (script.get("src") or "").strip()
        if not src:
            continue
        integrity = script.get("integrity")
        protocol_relative = re.match(r"^//[^/]", src) is not None
        absolute = re.match(r"^https?://", src, re.IGNORECASE) is not None
        relative = not protocol_relative and not absolute
        same_site = protocol_relative or relative or _registrable(_host(src)) == site
        if relative or (same_site and not protocol_relative):
            if (
                integrity
                and (_scheme(src) == "https" or (relative and _scheme(url) == "https"))
                and result is None
            ):
                result = "sri-implemented-and-all-scripts-loaded-securely"
                reasons[result] = "same-site scripts carry integrity"
            continue
        foreign = True
        secure_scheme = absolute and _scheme(src) == "https"
        if integrity and not secure_scheme:
            worse(
                "sri-implemented-but-external-scripts-not-loaded-securely",
                f"{src} is not loaded over https://",
            )
        elif not integrity and secure_scheme:
            worse(
                "sri-not-implemented-but-external-scripts-loaded-securely",
                f"{src} has no integrity attribute",
            )
        elif not integrity:
            worse(
                "sri-not-implemented-and-external-scripts-not-loaded-securely",
                f"{src} has no integrity and is not loaded over https://",
            )

    if result is None:
        if foreign:
            return (
                "sri-implemented-and-external-scripts-loaded-securely",
                "external scripts carry integrity over https://",
            )
        return (
            "sri-not-implemented-but-all-scripts-loaded-from-secure-origin",
            "all scripts are same-site",
        )
    return result, reasons[result]


# --------------------------------------------------------------------------
# Simple header tests
# --------------------------------------------------------------------------

_REFERRER_PRIVATE = (
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
)
_REFERRER_UNSAFE = (
    "origin",
    "origin-when-cross-origin",
    "unsafe-url",
    "no-referrer-when-downgrade",
)


def _referrer_test(headers: _Headers, page: _PageScanner | None) -> tuple[str, str]:
    values = [
        v
        for v in (headers.get("referrer-policy"), page.meta_referrer if page else None)
        if v is not None
    ]
    if not values:
        return "referrer-policy-not-implemented", "no Referrer-Policy header"
    valid = [
        t.strip().lower()
        for t in ", ".join(values).split(",")
        if t.strip().lower() in _REFERRER_PRIVATE + _REFERRER_UNSAFE
    ]
    effective = valid[-1] if valid else ""
    source = " (from <meta name=referrer>)" if page and page.meta_referrer else ""
    if effective in _REFERRER_PRIVATE:
        return "referrer-policy-private", f"Referrer-Policy {effective}{source}"
    if effective in _REFERRER_UNSAFE:
        return (
            "referrer-policy-unsafe",
            f"Referrer-Policy {effective} leaks the URL cross-origin{source}",
        )
    return "referrer-policy-header-invalid", f"unrecognised Referrer-Policy {', '.join(values)!r}"


def _xcto_test(headers: _Headers) -> tuple[str, str]:
    value = headers.get("x-content-type-options")
    if not value:
        return "x-content-type-options-not-implemented", "no X-Content-Type-Options header"
    if value[:256].strip().lower() == "nosniff":
        return "x-content-type-options-nosniff", "X-Content-Type-Options: nosniff"
    return (
        "x-content-type-options-header-invalid",
        f"X-Content-Type-Options {value!r} is not exactly nosniff",
    )


def _xfo_test(headers: _Headers, csp: _CspOutcome) -> tuple[str, str]:
    if csp.directives is not None and "frame-ancestors" in csp.directives:
        sources = " ".join(sorted(csp.directives["frame-ancestors"]))
        return "x-frame-options-implemented-via-csp", f"CSP frame-ancestors {sources}"
    value = headers.get("x-frame-options")
    if not value:
        return (
            "x-frame-options-not-implemented",
            "no X-Frame-Options header and no CSP frame-ancestors",
        )
    xfo = value[:1024].strip().lower()
    if xfo in {"deny", "sameorigin"}:
        return "x-frame-options-sameorigin-or-deny", f"X-Frame-Options {xfo.upper()}"
    if xfo.startswith("allow-from"):
        return (
            "x-frame-options-allow-from-origin",
            "X-Frame-Options ALLOW-FROM (obsolete; use frame-ancestors)",
        )
    return "x-frame-options-header-invalid", f"X-Frame-Options {value!r} is not DENY or SAMEORIGIN"


def _corp_test(headers: _Headers) -> tuple[str, str]:
    value = headers.get("cross-origin-resource-policy")
    if not value:
        return (
            "corp-not-implemented",
            "no Cross-Origin-Resource-Policy header (defaults to cross-origin)",
        )
    corp = value[:256].strip().lower()
    known = {
        "same-origin": "corp-implemented-with-same-origin",
        "same-site": "corp-implemented-with-same-site",
        "cross-origin": "corp-implemented-with-cross-origin",
    }
    if corp in known:
        return known[corp], f"Cross-Origin-Resource-Policy {corp}"
    return "corp-header-invalid", f"Cross-Origin-Resource-Policy {value!r} is not recognised"


def _cors_test(
    cors_preflight: tuple[str, HeaderList | Mapping[str, str]] | None,
) -> tuple[str, str]:
    if cors_preflight is None:
        return (
            "cross-origin-resource-sharing-not-implemented",
            "not evaluated: needs the grader's OPTIONS preflight with an Origin header; "
            "scored as the grader scores an absent Access-Control-Allow-Origin",
        )
    origin, raw_headers = cors_preflight
    headers = _combine(raw_headers)
    acao = headers.get("access-control-allow-origin")
    if not acao:
        return (
            "cross-origin-resource-sharing-not-implemented",
            "preflight answered without Access-Control-Allow-Origin",
        )
    credentials = (headers.get("access-control-allow-credentials") or "").strip().lower()
    if acao[:256].strip().lower() == "*":
        return (
            "cross-origin-resource-sharing-implemented-with-public-access",
            "Access-Control-Allow-Origin: *",
        )
    if acao == origin and credentials == "true":
        return (
            "cross-origin-resource-sharing-implemented-with-universal-access",
            f"the preflight reflects Origin {origin} and allows credentials",
        )
    return (
        "cross-origin-resource-sharing-implemented-with-restricted-access",
        f"Access-Control-Allow-Origin {acao}",
    )


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def score(
    url: str,
    status: int,
    headers: HeaderList | Mapping[str, str],
    *,
    body: str = "",
    redirects: Sequence[tuple[str, int, HeaderList | Mapping[str, str]]] = (),
    hsts_preload: Mapping[str, bool] | Iterable[str] | None = None,
    tls_verified: bool = True,
    cors_preflight: tuple[str, HeaderList | Mapping[str, str]] | None = None,
    hostname: str | None = None,
) -> Report:
    """Grade one response the way the MDN HTTP Observatory would.

    url, status, headers, body: the final response ("auto" in the grader).
    redirects: hops before it as (request_url, status, response_headers),
        starting with the http:// request when there is one.
    hsts_preload: hosts on the HSTS preload list, or {host: include_subdomains}.
    tls_verified: False if the certificate chain did not verify.
    cors_preflight: (origin_sent, headers) of an OPTIONS preflight, if made.
    hostname: the host that was scanned (default: host of the first URL).

    Raises ScanRefused for status codes the grader will not grade
    (below 200, or 400 and above except 401 and 403).
    """
    if status < 200 or (status >= 400 and status not in (401, 403)):
        raise ScanRefused(f"the grader refuses to grade an HTTP {status} response")

    final = _combine(headers)
    page = _scan_page(body) if _is_html(final) else None
    scanned_host = (hostname or _host(redirects[0][0] if redirects else url)).lower().rstrip(".")
    preload = _preload_lookup(hsts_preload)
    notes: list[str] = []

    csp = _csp_test(url, final, page)
    hsts = _hsts_test(
        url, final, tls_verified=tls_verified, scanned_host=scanned_host, preload=preload
    )
    hsts_protects = hsts[0] in PASSING_RESULTS

    final_scheme = _scheme(url)
    cookie_lines = [
        (hop_url, raw)
        for hop_url, _status, hop_headers in redirects
        if _scheme(hop_url) == final_scheme
        for raw in _combine(hop_headers).set_cookie
    ]
    cookie_lines += [(url, raw) for raw in final.set_cookie]
    skipped = sum(
        len(_combine(h).set_cookie) for u, _s, h in redirects if _scheme(u) != final_scheme
    )
    if skipped:
        notes.append(
            f"{skipped} Set-Cookie line(s) on {('http' if final_scheme == 'https' else 'https')} hops not judged"
        )

    outcomes: dict[str, tuple[str, str]] = {
        "content-security-policy": (csp.result, csp.reason),
        "cookies": _cookies_test(cookie_lines, hsts_protects=hsts_protects),
        "cross-origin-resource-sharing": _cors_test(cors_preflight),
        "redirection": _redirection_test(
            url, redirects, tls_verified=tls_verified, preload=preload
        ),
        "referrer-policy": _referrer_test(final, page),
        "strict-transport-security": hsts,
        "subresource-integrity": _sri_test(url, final, page, scanned_host),
        "x-content-type-options": _xcto_test(final),
        "x-frame-options": _xfo_test(final, csp),
        "cross-origin-resource-policy": _corp_test(final),
    }

    tests = tuple(
        TestResult(name, result, MODIFIERS[result], result in PASSING_RESULTS, reason)
        for name, (result, reason) in ((n, outcomes[n]) for n in TEST_NAMES)
    )
    with_bonus = BASELINE_SCORE + sum(t.modifier for t in tests)
    penalties_only = BASELINE_SCORE + sum(t.modifier for t in tests if t.modifier < 0)
    total = with_bonus if penalties_only >= MINIMUM_SCORE_FOR_EXTRA_CREDIT else penalties_only
    total = max(total, 0)
    if penalties_only < MINIMUM_SCORE_FOR_EXTRA_CREDIT and any(t.modifier > 0 for t in tests):
        notes.append(
            f"bonuses withheld: score after penalties is {penalties_only} (< {MINIMUM_SCORE_FOR_EXTRA_CREDIT})"
        )
    if page is not None and page.meta_csp:
        notes.append(
            f"{len(page.meta_csp)} <meta http-equiv=Content-Security-Policy> polic(y/ies) in the body were considered"
        )
    return Report(url, total, grade_for(total), penalties_only, tests, tuple(notes))
