"""Media adapters around aiortc: the receive tap, packet tracks and the voice relay."""
