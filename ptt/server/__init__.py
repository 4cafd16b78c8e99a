"""Asyncio adapters of the radio: the service, the WebSocket endpoint, REST, storage."""
