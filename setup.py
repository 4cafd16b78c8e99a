"""Build hook for Siaga's one C extension; everything else is declared in pyproject.toml.

``ptt/media/_rtpout.c`` sends the WebRTC fan-out's per-listener packets. It is optional: where
no C compiler is found the install goes on without it and the same packets are built in
Python (``ptt.media.fast_sender``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ptt.media._rtpout",
            sources=["ptt/media/_rtpout.c"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
        )
    ]
)
