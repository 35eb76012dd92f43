"""Run the application inside an existing event loop (demo, tests, benchmarks).

`Application.run_polling` owns the loop and the signals, which suits `labelgram run`; the demo
and the tests need the bot as one task among others, with post_init/post_shutdown still run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram.ext import Application


@asynccontextmanager
async def polling(
    app: Application[Any, Any, Any, Any, Any, Any], *, poll_timeout: int = 1
) -> AsyncIterator[None]:
    """Initialise, start and long-poll; stop and shut down on exit."""
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        updater = app.updater
        if updater is None:
            raise RuntimeError("the application was built without an updater")
        await updater.start_polling(poll_interval=0, timeout=poll_timeout)
        await app.start()
        try:
            yield
        finally:
            await updater.stop()
            await app.stop()
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
