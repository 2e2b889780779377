# syntax=docker/dockerfile:1
# micd container image: build the virtual environment in one stage, run it from a clean slim stage.
# Settings come from MICD_* environment variables (nested with __) and an optional `--config FILE`.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The virtual environment carries no pip: the base image's pip installs into it from outside.
RUN python -m venv --without-pip /opt/venv
# constraints.txt pins every dependency, so the image holds the versions CI tested.
COPY pyproject.toml README.md constraints.txt ./
COPY daemon/ ./daemon/
RUN pip --python /opt/venv/bin/python install --constraint constraints.txt "./[fast]"

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="micd" \
      org.opencontainers.image.description="Major incident command daemon" \
      org.opencontainers.image.licenses="Apache-2.0"
# The daemon binds loopback by default; a container must listen on all interfaces to be reachable.
# On a non-loopback address micd refuses to start without tokens (MICD_AUTH__API_TOKENS,
# MICD_AUTH__WEBHOOK_TOKENS) unless MICD_AUTH__INSECURE=true is set.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MICD_LISTEN=0.0.0.0:9095
RUN groupadd --system --gid 10001 micd \
    && useradd --system --uid 10001 --gid micd --home-dir /app --no-create-home --shell /usr/sbin/nologin micd
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
# Baked rules (catalogue and impact rules) at the default rules_dir, ./rules/; mount over /app/rules to replace them.
COPY rules/ ./rules/
# The default database, sqlite:///./var/micd.sqlite3, lives here: the only path the daemon writes.
RUN mkdir /app/var && chown micd:micd /app/var
VOLUME ["/app/var"]
USER 10001:10001
EXPOSE 9095
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('MICD_LISTEN', '127.0.0.1:9095').rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
ENTRYPOINT ["micd"]
CMD ["serve"]
