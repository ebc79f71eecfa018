# Border Coordination Hub image: Daphne serving hub.asgi, static files by WhiteNoise.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HUB_ENV=production
WORKDIR /app
RUN useradd --system --create-home --uid 10001 hub
COPY pyproject.toml README.md ./
COPY hub/ hub/
COPY manage.py ./
RUN pip install --no-cache-dir .
COPY --from=frontend /src/frontend/dist frontend/dist
# collectstatic needs settings that load; the build-time key is thrown away.
# So is the build-time signing key (production settings refuse to load without one).
RUN python -m hub.keygen /tmp/build-signing.pem \
    && SECRET_KEY=build-only-$(python -c "import secrets;print(secrets.token_urlsafe(64))") \
    HUB_SIGNING_KEY_FILE=/tmp/build-signing.pem \
    ALLOWED_HOSTS=build.invalid python manage.py collectstatic --noinput \
    && rm /tmp/build-signing.pem \
    && mkdir -p var/signing && chown -R hub:hub var
USER hub
EXPOSE 8000
# hub.probe sends Host: <first ALLOWED_HOSTS name>; production settings answer 400
# (DisallowedHost) to a bare "Host: 127.0.0.1" (see hub/probe.py).
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["python", "-m", "hub.probe", "http://127.0.0.1:8000/healthz"]
CMD ["daphne", "--bind", "0.0.0.0", "--port", "8000", "--proxy-headers", \
     "--websocket-max-message-size", "131072", "--websocket-max-frame-size", "131072", \
     "hub.asgi:application"]
