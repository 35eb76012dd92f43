"""A project named per language: each reader sees the name in theirs (guide, card, notices)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.client import buttons
from sandbox.server import SandboxServer
from storage.models import SampleIn
from tests.e2e.conftest import World, start_world

NAMES = {"en": "Colours", "ko": "색깔 고르기"}


@pytest.fixture
async def named(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[World]:
    samples = [SampleIn(ext_id=f"t{i}", text=f"text sample {i}", truth="red") for i in range(3)]
    async for w in start_world(sandbox, tmp_path, samples, overlap=2, name=NAMES):
        yield w


async def test_each_reader_sees_the_name_in_their_language(named: World) -> None:
    world = named
    assert world.project.name == "Colours"
    assert world.project.names == NAMES
    stored = await world.repo.get_project(world.project.id)
    assert stored.names == NAMES
    ko, ko_guide = await world.joined(1001, "ko")
    en, en_guide = await world.joined(1002, "en")
    assert "색깔 고르기" in ko_guide["text"]
    assert "Colours" not in ko_guide["text"]
    assert "Colours" in en_guide["text"]
    assert "색깔" not in en_guide["text"]
    await ko.press(ko_guide, data=buttons(ko_guide)[0][1])
    ko_card = await ko.next_message()
    assert "색깔 고르기" in ko_card["text"]
    await en.press(en_guide, data=buttons(en_guide)[0][1])
    en_card = await en.next_message()
    assert "Colours" in en_card["text"]
    assert world.project.slug == "colours"
