"""A simulated crowd: workers with different speeds and accuracies who press buttons.

They talk to the sandbox's user-side HTTP API exactly as a phone would act: send `/start
<code>`, press Start, read each card, press a label button, wait for the next card. They know
the true answer of each text (the demo's bundled truth) and choose it with their accuracy.

What they do not emulate: reading time that depends on the text, people who abandon a card
and come back hours later, network loss on the phone side.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from sandbox.client import SandboxUser, buttons

QUESTION_MARK = "\n\n❓ "


@dataclass(frozen=True)
class Profile:
    """How a simulated worker behaves."""

    kind: str  # "careful", "fast" or "careless"
    accuracy: float  # chance to pick the true option (careless workers pick at random)
    think_s: float  # mean seconds between seeing a card and tapping
    skip_rate: float = 0.0


PROFILES = {
    "careful": Profile("careful", accuracy=0.92, think_s=0.03, skip_rate=0.01),
    "fast": Profile("fast", accuracy=0.78, think_s=0.01),
    "careless": Profile("careless", accuracy=0.0, think_s=0.002),
}


def mixed_profiles(n: int) -> list[Profile]:
    """A realistic mix: mostly careful, some fast and sloppy, a few careless."""
    plan: list[Profile] = []
    for i in range(n):
        if i % 7 == 6:
            plan.append(PROFILES["careless"])
        elif i % 3 == 2:
            plan.append(PROFILES["fast"])
        else:
            plan.append(PROFILES["careful"])
    return plan


@dataclass
class WorkerResult:
    """What one simulated worker did."""

    user_id: int
    name: str
    profile: Profile
    labels: int = 0
    correct: int = 0
    skipped: int = 0
    latencies: list[float] = field(default_factory=list)
    finished: bool = False
    error: str | None = None


@dataclass
class Crowd:
    """A crowd of simulated workers joining with one invite code."""

    base_url: str
    invite_code: str
    truth_by_text: Mapping[str, int]  # sample text -> index of the true option
    profiles: list[Profile]
    seed: int = 7
    first_user_id: int = 1001
    card_timeout_s: float = 15.0
    # The project's min_read: a tap sooner than this after the card arrived is not recorded,
    # so nobody here taps sooner, whatever their profile's thinking time.
    min_read_s: float = 0.0
    on_label: Callable[[], None] | None = None
    results: list[WorkerResult] = field(default_factory=list)

    async def run(self) -> list[WorkerResult]:
        """Let every worker label until the bot says all is done."""
        self.results = [
            WorkerResult(self.first_user_id + i, f"worker{i + 1:02d}", p)
            for i, p in enumerate(self.profiles)
        ]
        # A client per worker, as phones have: one shared httpx pool spends more CPU on its own
        # bookkeeping than on requests once dozens of workers long-poll at once (measured).
        clients = [
            httpx.AsyncClient(base_url=self.base_url, timeout=30, trust_env=False)
            for _ in self.results
        ]
        try:
            await asyncio.gather(
                *(
                    self._work(http, result, i)
                    for i, (http, result) in enumerate(zip(clients, self.results, strict=True))
                )
            )
        finally:
            for http in clients:
                await http.aclose()
        return self.results

    async def _work(self, http: httpx.AsyncClient, result: WorkerResult, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        lang = "ko" if index % 4 == 3 else "en"  # some workers use the Korean interface
        user = SandboxUser(
            self.base_url, result.user_id, result.name, language_code=lang, client=http
        )
        try:
            await user.create()
            await user.send(f"/start {self.invite_code}")
            guide = await self._wait_for(user, lambda m: bool(buttons(m)))
            await user.press(guide, data=buttons(guide)[0][1])
            pressed_at: float | None = None
            card = guide
            while True:
                # The next card may be a new message or the tapped card edited in place.
                message = await user.next_card(card, timeout=self.card_timeout_s, notices=True)
                seen_at = time.perf_counter()
                if pressed_at is not None:
                    # What a worker feels: tap until the next card (or all-done note) arrives.
                    result.latencies.append(time.perf_counter() - pressed_at)
                    pressed_at = None
                options = [b for b in buttons(message) if b[1].startswith("v1:l:")]
                if not options:
                    if "🎉" in (message.get("text") or ""):
                        result.finished = True
                        return
                    continue  # a notice, not a card
                card = message
                pressed_at = await self._answer(user, message, options, result, rng, seen_at)
        except (TimeoutError, httpx.HTTPError, KeyError, IndexError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            await user.aclose()

    async def _answer(
        self,
        user: SandboxUser,
        card: dict[str, object],
        options: list[tuple[str, str]],
        result: WorkerResult,
        rng: random.Random,
        seen_at: float,
    ) -> float | None:
        """Tap an option (or Skip) on a card that arrived at `seen_at` (perf_counter); return
        when a label was tapped."""
        profile = result.profile
        text = str(card.get("text") or card.get("caption") or "").split(QUESTION_MARK)[0]
        truth = self.truth_by_text.get(text)
        think = rng.expovariate(1 / profile.think_s) if profile.think_s else 0.0
        read = self.min_read_s - (time.perf_counter() - seen_at)
        await asyncio.sleep(max(think, read))
        if rng.random() < profile.skip_rate:
            skip = next(b for b in buttons(card) if b[1].startswith("v1:s:"))
            await user.press(card, data=skip[1])
            result.skipped += 1
            return None
        # Buttons carry the option index last (v1:l:<assignment>:<index>), in any language.
        right = [b for b in options if truth is not None and b[1].endswith(f":{truth}")]
        wrong = [b for b in options if b not in right]
        if profile.kind != "careless" and right and rng.random() < profile.accuracy:
            choice = right[0]
        else:
            choice = rng.choice(wrong if right and profile.kind != "careless" else options)
        pressed_at = time.perf_counter()
        await user.press(card, data=choice[1])
        result.labels += 1
        result.correct += choice in right
        if self.on_label is not None:
            self.on_label()
        return pressed_at

    async def _wait_for(
        self, user: SandboxUser, accept: Callable[[dict[str, object]], bool]
    ) -> dict[str, object]:
        deadline = time.monotonic() + self.card_timeout_s
        while True:
            message = await user.next_message(timeout=max(deadline - time.monotonic(), 0.01))
            if accept(message):
                return message
