"""The image build's bin/slim-venv removes only what a running project never reads."""

import runpy
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "bin" / "slim-venv"
slim = runpy.run_path(str(SCRIPT))["slim"]

KEPT = (
    "django/conf/locale/__init__.py",
    "django/conf/locale/en/LC_MESSAGES/django.mo",
    "django/conf/locale/en_GB/formats.py",
    "django/contrib/admin/locale/en/LC_MESSAGES/djangojs.mo",
    "django/test/client.py",  # Django's test framework, not a test suite
    "django/contrib/admin/static/admin/css/base.css",  # collectstatic and DEBUG read it
    "botocore/data/endpoints.json.gz",
    "botocore/data/s3/2006-03-01/service-2.json.gz",
    "botocore/data/sts/2011-06-15/service-2.json.gz",
    "botocore/data/sso-oidc/2019-06-10/service-2.json.gz",
    "boto3/data/s3/2006-03-01/resources-1.json",
    "certifi/cacert.pem",
    "somepackage/_speedups.cpython-313-x86_64-linux-gnu.so",
    "somepackage-1.0.dist-info/METADATA",
)
REMOVED = (
    "django/conf/locale/de/LC_MESSAGES/django.mo",
    "django/conf/locale/de/formats.py",
    "django/conf/locale/de_CH/formats.py",  # never active without a German catalog
    "django/conf/locale/en/LC_MESSAGES/django.po",
    "django/contrib/admin/locale/pt_BR/LC_MESSAGES/django.mo",
    "axes/locale/fr/LC_MESSAGES/django.mo",  # any package's catalogs, not only Django's
    "certifi/tests/test_certify.py",
    "botocore/data/ec2/2016-11-15/service-2.json.gz",
    "boto3/data/dynamodb/2012-08-10/resources-1.json",
    "somepackage/_speedups.c",
    "somepackage/include/speedups.h",
    "somepackage/_speedups.pyi",
)


def test_image_keeps_english_s3_and_code_but_not_other_languages_or_test_suites(tmp_path):
    site_packages = tmp_path / "lib" / "python3.13" / "site-packages"
    for name in KEPT + REMOVED:
        (site_packages / name).parent.mkdir(parents=True, exist_ok=True)
        (site_packages / name).write_bytes(b"x" * 10)

    slim(tmp_path)

    # A module's source gives way to its bytecode (next test).
    kept = [name.removesuffix(".py") + (".pyc" if name.endswith(".py") else "") for name in KEPT]
    assert [name for name in kept if not (site_packages / name).exists()] == []
    assert [name for name in REMOVED if (site_packages / name).exists()] == []
    assert not (site_packages / "django/conf/locale/de").exists()


def test_libraries_run_from_bytecode_without_their_sources(tmp_path):
    site_packages = tmp_path / "lib" / "python3.13" / "site-packages"
    package = site_packages / "somepackage"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("ANSWER = 42\n")
    (package / "__pycache__" / "__init__.cpython-313.pyc").write_bytes(b"stale")
    (package / "template.py").write_text("print 'Python 2'\n")

    slim(tmp_path)

    assert sorted(p.name for p in package.iterdir()) == ["__init__.pyc", "template.py"]
    completed = subprocess.run(
        [sys.executable, "-c", "import somepackage; print(somepackage.ANSWER)"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site_packages), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout == "42\n"
