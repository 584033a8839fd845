"""How every variable is read, for every part of the schema (config/env.py composes them).

- The process environment first, then `.env` (development only) for what it leaves unset.
- A secret (a `SecretStr` field) may come from a file instead: `NAME_FILE=/path`, the
  convention of the official Postgres image, for secrets mounted as files (Kubernetes,
  Docker secrets). Read once at start-up; one trailing newline is dropped.
- A variable may have the names platforms set as aliases (`validation_alias=AliasChoices(
  ours, theirs...)`), or fallbacks tried in order (`validation_alias=FirstOf(...)`).
- A variable set twice (NAME and NAME_FILE, or two aliases with different values) is an
  error naming both: neither silently wins.
Problems are reported with the rest of the schema's, naming variables and paths, never
values.
https://docs.pydantic.dev/latest/concepts/pydantic_settings/#customise-settings-sources
"""

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

BASE_DIR = Path(__file__).resolve().parent.parent


def split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


# A list given as one variable, "a, b,c".
CommaSeparated = Annotated[list[str], NoDecode, BeforeValidator(split_commas)]


class Problem(str):
    """A variable that could not be read, in words safe to print; the schema's
    validators turn it into an error on that variable."""


class EnvPart(BaseSettings):
    """One attached resource's variables. Parts are composed into config.env.Env."""

    model_config = SettingsConfigDict(
        env_file=BASE_DIR / ".env",
        extra="ignore",
        case_sensitive=True,
        hide_input_in_errors=True,
        # A variable set to nothing (`KEY=` in .env, `${KEY:-}` in compose) is not set.
        env_ignore_empty=True,
        # A part's validators are built only if it is used alone (tests); the process
        # builds one, Env's, when it loads the environment: a tenth of the import.
        defer_build=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, Variables(settings_cls, dotenv_settings))

    @field_validator("*", mode="before")
    @classmethod
    def readable(cls, value: Any) -> Any:
        if isinstance(value, Problem):
            raise ValueError(str(value))
        return value


class FirstOf(AliasChoices):
    """Names tried in order, the first one set wins: for values several platforms publish
    under their own names (the deployed commit), where two being set is no conflict."""


def is_secret(field: FieldInfo) -> bool:
    return field.annotation is SecretStr


def names(name: str, field: FieldInfo) -> tuple[str, ...]:
    """The variable's own name, then the names platforms use for it."""
    if isinstance(field.validation_alias, AliasChoices):
        return tuple(str(alias) for alias in field.validation_alias.choices)
    return (name,)


class Variables(PydanticBaseSettingsSource):
    """Each field's value from the environment or .env, by its name, its aliases or,
    for a secret, NAME_FILE. Returned under the field's own name."""

    def __init__(self, settings_cls: type[BaseSettings], dotenv: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self.environ = {name: value for name, value in os.environ.items() if value}
        # .env's values, already read by pydantic-settings' own source (which honours
        # `_env_file=None`); empty ones are dropped there.
        self.dotenv = {k: v for k, v in getattr(dotenv, "env_vars", {}).items() if v}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ does the work

    def __call__(self) -> dict[str, Any]:
        values = {}
        for name, field in self.settings_cls.model_fields.items():
            if (value := self.value(name, field)) is not None:
                values[name] = value
        return values

    def value(self, name: str, field: FieldInfo) -> str | None:
        candidates = names(name, field)
        file_variable = f"{name}_FILE" if is_secret(field) else None
        if file_variable:
            candidates += (file_variable,)
        # A variable the environment sets in any form hides every form of it in .env.
        source = self.environ if any(c in self.environ for c in candidates) else self.dotenv
        given = [candidate for candidate in candidates if candidate in source]
        if not given:
            return None
        first, *others = given
        if isinstance(field.validation_alias, FirstOf):
            return source[first]
        if file_variable in others:
            return Problem(f"{first} and {file_variable} are both set: keep one")
        if different := [other for other in others if source[other] != source[first]]:
            return Problem(f"{first} and {different[0]} are both set, to different values")
        if first == file_variable:
            return read_secret_file(first, source[first])
        return source[first]


def read_secret_file(variable: str, path: str) -> str:
    """The file's text without its trailing newline, or a Problem naming the path."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        return Problem(f"{variable}={path} cannot be read ({reason or error})")
    text = text.removesuffix("\n").removesuffix("\r")
    if not text.strip():
        return Problem(f"{variable}={path} is empty")
    return text
