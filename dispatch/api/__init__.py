"""The dispatch REST API and console stream (FastAPI routers; thin over the service)."""

from fastapi import APIRouter

from dispatch.api import hospitals, incidents, reports, resources
from dispatch.api.deps import dispatch_error_handler
from dispatch.api.stream import stream_endpoint

router = APIRouter()
router.include_router(incidents.router)
router.include_router(resources.router)
router.include_router(reports.router)
router.include_router(hospitals.router)

__all__ = ["dispatch_error_handler", "router", "stream_endpoint"]
