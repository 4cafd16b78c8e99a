"""The shared kernel: what ``ptt`` and ``dispatch`` both stand on.

Database base and sessions (``db``), identity and tokens (``identity``, ``auth``), the
API error shape (``errors``), configuration (``config``), the runtime that holds them
(``runtime``), the in-process event bus (``bus``), logging (``logs``), the login
throttle (``ratelimit``) and the FastAPI dependencies (``deps``). It imports no feature
package and not the composition root (``siaga``); ``make lint`` checks it.
"""
