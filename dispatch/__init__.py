"""SPGDT emergency medical dispatch: incidents, ambulances, hospitals, SMS.

Pure cores live at the package root (no I/O, no asyncio, no clock reads; ``now`` is an
argument); adapters live in subpackages (``dispatch/store``, ``dispatch/sms``) or, for the
travel-time service, in :mod:`dispatch.osrm`.

- :mod:`dispatch.domain`     enums (triage, statuses, capabilities, beds) with bilingual labels
- :mod:`dispatch.events`     domain events returned by the cores
- :mod:`dispatch.errors`     the error tree (root :class:`~dispatch.errors.DispatchError`)
- :mod:`dispatch.lifecycle`  assignment/unit state machine, time chain, escalation timers
- :mod:`dispatch.recommend`  ranking of ambulances and hospitals, each with its reason
- :mod:`dispatch.travel`     travel-time model interface and the straight-line default
- :mod:`dispatch.osrm`       adapter: routed durations from an OSRM server (async, httpx)
- :mod:`dispatch.replies`    crew SMS reply grammar and what a reply acts on
- :mod:`dispatch.sms_text`   GSM-7 arithmetic and the SMS composers

A service uses them in this order: rank (``recommend``) → ``lifecycle.dispatch_unit`` →
store the record and events → send ``sms_text.compose_dispatch_sms`` → on each crew SMS,
``replies.parse_reply`` → ``replies.resolve_reply`` → ``lifecycle.apply`` → store → act on
the events; one timer armed at ``lifecycle.next_deadline`` calls ``lifecycle.due_timers``.
"""
