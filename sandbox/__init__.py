"""A local sandbox Bot API server and simulated users, for the demo and end-to-end tests."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.client import SandboxError, SandboxUser, buttons, calls, reset_calls
    from sandbox.server import RateLimits, SandboxServer

__all__ = [
    "RateLimits",
    "SandboxError",
    "SandboxServer",
    "SandboxUser",
    "buttons",
    "calls",
    "reset_calls",
]

_HOMES = {
    "RateLimits": "server",
    "SandboxServer": "server",
    "SandboxError": "client",
    "SandboxUser": "client",
    "buttons": "client",
    "calls": "client",
    "reset_calls": "client",
}


def __getattr__(name: str) -> Any:
    """Import on first use, so ``python -m sandbox.server`` does not load the module twice."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
