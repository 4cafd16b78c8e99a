"""Siaga: push-to-talk radio and SPGDT emergency dispatch server.

This package is the composition root: configuration, database, identity, the HTTP
application, the command line and the demo data. Voice lives in :mod:`ptt`, emergency
medical dispatch in :mod:`dispatch`; they meet only here.
"""

__version__ = "0.1.0"
