# syntax=docker/dockerfile:1
# Siaga's image. BASE is any Debian 12 or 13 with Python 3.11 or newer as `python3`: the
# public python:3.11-slim-bookworm by default, or Debian's own system made with debootstrap
# where no registry of container images is reachable (scripts/image.sh builds from
# localhost/siaga-debian:12, made by scripts/container.sh). Both stages use the same BASE,
# so the virtualenv's interpreter is the runtime's.
ARG BASE=python:3.11-slim-bookworm

# Build stage: a virtualenv with Siaga and its dependencies.
FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# A C compiler for the WebRTC fan-out's extension (ptt/media/_rtpout.c; optional, but
# without it every listener's packet is built in Python), and what Debian's own python3
# lacks for it: the headers (python3-dev) and ensurepip (python3-venv). The python images
# bring both with their interpreter, so nothing more is installed there.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && include=$(python3 -c 'import sysconfig; print(sysconfig.get_path("include"))') \
    && { [ -e "$include/Python.h" ] || apt-get install -y --no-install-recommends python3-dev; } \
    && { python3 -c 'import ensurepip' 2>/dev/null \
         || apt-get install -y --no-install-recommends python3-venv; } \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
# Every package of pyproject's [tool.setuptools.packages.find] (tests/test_dockerfile.py).
COPY pyproject.toml setup.py README.md ./
COPY kernel ./kernel
COPY siaga ./siaga
COPY ptt ./ptt
COPY dispatch ./dispatch
COPY clients/python ./clients/python
# A machine whose HTTPS goes through its own CA passes that bundle as the build secret `ca`
# (podman/docker build --secret id=ca,src="$SSL_CERT_FILE"); it is mounted for this step
# only and never stored in the image. Without the secret pip uses its own CAs. The
# extension must have built: the compiler and headers are right here.
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then \
        export PIP_CERT=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca; \
    fi \
    && python3 -m venv /opt/siaga \
    && /opt/siaga/bin/pip install . \
    && /opt/siaga/bin/python -I -c 'import ptt.media._rtpout'

# Runtime stage: libopus for the Opus binding, a non-root user, state in /app/var (created
# here so that a new volume mounted there belongs to the user). `apt-get clean` matters on
# a debootstrap base, which keeps apt's package caches (the python images do not).
FROM ${BASE}
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libopus0 \
    && apt-get clean && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 siaga \
    && useradd --system --gid siaga --uid 10001 --create-home --home-dir /app siaga \
    && install -d -o siaga -g siaga /app/var
COPY --from=build /opt/siaga /opt/siaga
# The console (webui/, whose shared/ is served at /shared/ to the officers' app too) and the app.
COPY webui /app/webui
COPY clients/mobile /app/mobile
ENV PATH=/opt/siaga/bin:$PATH \
    SIAGA_HOST=0.0.0.0 \
    SIAGA_DATA_DIR=/app/var \
    SIAGA_WEBUI_DIR=/app/webui \
    SIAGA_MOBILE_DIR=/app/mobile \
    SIAGA_DATABASE_URL=sqlite+aiosqlite:////app/var/siaga.db \
    PYTHONUNBUFFERED=1
WORKDIR /app
USER 10001
VOLUME ["/app/var"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, sys, urllib.request; port = os.environ.get('SIAGA_PORT', '8080'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["siaga"]
CMD ["serve"]
