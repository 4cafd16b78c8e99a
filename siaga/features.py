"""The feature packages the composition root mounts, in start order.

A feature is anything with ``mount(app, runtime)`` (add routes and static files) and
``start``/``stop`` (own its tasks). ``ptt`` and ``dispatch`` each provide one in their
``wiring`` module; they exchange domain events on ``runtime.services["bus"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from dispatch.wiring import DispatchFeature
from ptt.wiring import RadioFeature
from siaga.bridge import BridgeFeature

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kernel.runtime import Runtime


class Feature(Protocol):
    def mount(self, app: FastAPI, runtime: Runtime) -> None: ...

    async def start(self, runtime: Runtime) -> None: ...

    async def stop(self, runtime: Runtime) -> None: ...


FEATURES: list[Feature] = [RadioFeature(), DispatchFeature(), BridgeFeature()]
