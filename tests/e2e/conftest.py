from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app import LabelgramApp, build_application, polling
from config.settings import Settings
from sandbox.client import JSON, SandboxUser, buttons
from sandbox.server import RateLimits, SandboxServer
from storage.models import Project, Role, SampleIn
from storage.repository import Repository
from tests.conftest import make_spec
from tests.tls import bot_requests, http_client

ADMIN_ID = 900


@dataclass
class World:
    sandbox: SandboxServer
    repo: Repository
    app: LabelgramApp
    project: Project
    invite: str
    http: httpx.AsyncClient

    def user(self, user_id: int, lang: str = "en") -> SandboxUser:
        return SandboxUser(
            self.sandbox.url, user_id, f"User{user_id}", language_code=lang, client=self.http
        )

    async def joined(self, user_id: int, lang: str = "en") -> tuple[SandboxUser, JSON]:
        """A user who opened the invite link; returns them and the guide message."""
        user = self.user(user_id, lang)
        await user.create()
        await user.send(f"/start {self.invite}")
        await user.next_message()  # "You joined ..."
        guide = await user.next_message()
        return user, guide

    async def first_card(self, user_id: int, lang: str = "en") -> tuple[SandboxUser, JSON]:
        user, guide = await self.joined(user_id, lang)
        await user.press(guide, data=buttons(guide)[0][1])
        return user, await user.next_message()


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(limits=RateLimits(None, 30, None, 20)) as server:
        yield server


async def start_world(
    sandbox: SandboxServer, tmp_path: Path, samples: list[SampleIn], **spec: object
) -> AsyncIterator[World]:
    repo = Repository(tmp_path / "e2e.db")
    await repo.open()
    project = await repo.create_project(make_spec(**spec))
    await repo.import_samples(project.id, samples)
    invite = await repo.create_invite(project.id, Role.WORKER)
    settings = Settings(
        token=sandbox.token,
        bot_api_url=sandbox.bot_api_url,
        bot_file_url=sandbox.file_url,
        db_path=tmp_path / "e2e.db",
        admins=[ADMIN_ID],
        rate_limit=False,
    )
    app = build_application(settings, repo, **bot_requests())
    # freeze_heap=False: each start would walk this worker's heap (see app.polling)
    async with http_client(timeout=10) as http, polling(app, freeze_heap=False):
        yield World(sandbox, repo, app, project, invite, http)


@pytest.fixture
async def world(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[World]:
    samples = [SampleIn(ext_id=f"t{i}", text=f"text sample {i}", truth="red") for i in range(3)]
    async for w in start_world(sandbox, tmp_path, samples, overlap=2):
        yield w
