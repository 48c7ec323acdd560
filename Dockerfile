# kopdes-match: one image for every service; the container's command picks the service
# (`run ingest`, `run matcher`, `run notify`, `run review`, `migrate`, `health`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never

RUN pip install --no-cache-dir uv \
    && useradd --system --create-home --uid 10001 kopdes \
    && mkdir -p /var/lib/kopdes \
    && chown kopdes /var/lib/kopdes

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY schemas ./schemas
COPY services ./services
COPY matcher ./matcher
RUN uv sync --frozen --no-dev

ENV PATH="/app/.venv/bin:${PATH}" \
    KOPDES_DATA_DIR=/var/lib/kopdes \
    KOPDES_LOG_FORMAT=json \
    KOPDES_METRICS_HOST=0.0.0.0 \
    KOPDES_METRICS_PORT=9100 \
    KOPDES_EMBEDDED_FALLBACK=false

USER kopdes
# 9100: /healthz, /readyz, /metrics of every service; 8000: the review dashboard.
EXPOSE 9100 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["kopdes-match", "health"]
ENTRYPOINT ["kopdes-match"]
CMD ["--help"]
