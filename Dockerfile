# syntax=docker/dockerfile:1
# Build stage: a virtualenv with Siaga and its dependencies.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# A C compiler for the WebRTC fan-out's extension (ptt/media/_rtpout.c; optional, but
# without it every listener's packet is built in Python).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.py README.md ./
COPY kernel ./kernel
COPY siaga ./siaga
COPY ptt ./ptt
COPY dispatch ./dispatch
COPY clients/python ./clients/python
RUN python -m venv /opt/siaga && /opt/siaga/bin/pip install .

# Runtime stage: libopus for the Opus binding, a non-root user, state in /app/var.
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends libopus0=1.3.1-3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /app --uid 10001 siaga
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
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["siaga"]
CMD ["serve"]
