"""Runtime settings from LABELGRAM_* environment variables, a .env file and labelgram.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

TELEGRAM_BOT_API_URL = "https://api.telegram.org/bot"
TELEGRAM_FILE_URL = "https://api.telegram.org/file/bot"


class ConfigError(Exception):
    """Settings could not be loaded; the message names the setting and what is allowed."""


class Settings(BaseSettings):
    """Everything the bot needs to run; secrets stay in SecretStr."""

    model_config = SettingsConfigDict(
        env_prefix="LABELGRAM_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        toml_file="labelgram.toml",
    )

    token: SecretStr | None = Field(default=None, description="Bot token from @BotFather.")
    bot_api_url: str = Field(
        default=TELEGRAM_BOT_API_URL,
        description="Bot API base URL, up to and including '/bot' (token is appended).",
    )
    bot_file_url: str | None = Field(
        default=None, description="File download base URL; derived from bot_api_url if unset."
    )
    db_path: Path = Field(default=Path("labelgram.db"), description="SQLite database file.")
    admins: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="Telegram user ids of admins: '1,2' or '[1, 2]'."
    )
    log_level: str = "INFO"
    rate_limit: bool = Field(
        default=True, description="Throttle outgoing messages to Telegram's published limits."
    )
    concurrent_updates: int = Field(default=64, ge=1, le=1024)
    poll_timeout: int = Field(
        default=10,
        ge=0,
        le=50,
        description=(
            "Seconds `labelgram run`'s getUpdates long poll may wait for an update (Telegram"
            " allows 0-50). A revoked token is seen at the next poll, so at most this late."
        ),
    )
    expire_every_s: float = Field(
        default=30.0, gt=0, description="How often timed-out assignments return to the pool."
    )
    backup_every: float = Field(
        default=0.0,
        ge=0,
        description=(
            "Seconds between the bot's own backups of its database (0: none; e.g. 86400 for"
            " daily). Each is a checked copy in backup_dir; the newest backup_keep are kept."
        ),
    )
    backup_dir: Path | None = Field(
        default=None, description="Folder of the scheduled backups (default: backups/ beside db)."
    )
    backup_keep: int = Field(default=7, ge=1, description="Scheduled backups kept.")
    check_in_process_labels: int = Field(
        default=20_000,
        ge=0,
        description=(
            "A quality check of a project with at most this many labels runs in a thread of the"
            " bot (tens of milliseconds); a larger one in a throttled child process. 0: always"
            " a child."
        ),
    )

    @field_validator("bot_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("admins", mode="before")
    @classmethod
    def _admins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().strip("[]")
            try:
                return [int(part) for part in text.replace(",", " ").split()]
            except ValueError:
                raise ValueError(
                    "must be Telegram user ids separated by commas, e.g. 12345,67890"
                ) from None
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def file_url(self) -> str:
        """The file base URL, derived from the Bot API URL when not set."""
        if self.bot_file_url:
            return self.bot_file_url.rstrip("/")
        base = self.bot_api_url
        return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit arguments win, then the environment, then .env, then labelgram.toml."""
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls),
            file_secret_settings,
        )


def load_settings(**overrides: Any) -> Settings:
    """Load settings, turning validation errors into one readable ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            problems.append(f"LABELGRAM_{name.upper()} ({name}): {err['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from exc
    except ValueError as exc:  # malformed labelgram.toml or .env
        raise ConfigError(f"could not read settings: {exc}") from exc
