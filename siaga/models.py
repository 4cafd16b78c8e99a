"""Every mapped model, imported once so that ``Base.metadata`` holds the whole schema
(Alembic's autogenerate and the schema test rely on it)."""

from dispatch.store import models as dispatch_models
from kernel import identity
from kernel.db import Base
from ptt.store import models as ptt_models

metadata = Base.metadata

__all__ = ["dispatch_models", "identity", "metadata", "ptt_models"]
