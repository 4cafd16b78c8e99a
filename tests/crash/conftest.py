"""The crash tests' fixtures: a counting HTTP gateway (tests/sms/counting_gateway.py)."""

from tests.sms.counting_gateway import counting_gateway  # noqa: F401 (a fixture)
