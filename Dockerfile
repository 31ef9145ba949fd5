# peyvand's image: the workers (`python worker.py --roles …`), the ingress (`python -m ingress`)
# and the one-shot tools (`python -m deploy.sandbox_setup`, `python -m ingress keys add …`,
# `python starter.py …`). Built by docker-compose.yml as peyvand:<version in pyproject.toml>.
#
# No secret is baked in: codec keys, webhook secrets and database passwords come from the
# environment at run time (.env, see deploy/env.example); .dockerignore keeps .env, data/ and
# the virtualenv out of the build context.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The runtime dependencies only ([project.dependencies], not the dev extra), in a layer of their
# own that is rebuilt only when pyproject.toml changes. The code runs from /app, as it does from
# a checkout, so nothing of ours goes to site-packages.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# A user of its own; the code stays owned by root, so the processes cannot change it. Their only
# writable place is PEYVAND_DATA_DIR (the ingress's API key file; a volume in compose).
RUN useradd --system --uid 10001 --user-group --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin peyvand \
    && mkdir -p /var/lib/peyvand \
    && chown peyvand:peyvand /var/lib/peyvand

COPY . .

ENV PEYVAND_DATA_DIR=/var/lib/peyvand
USER peyvand

# 8000: the ingress (webhooks, approvals API, codec server); 9464: a worker's Prometheus metrics.
EXPOSE 8000 9464
CMD ["python", "worker.py", "--roles", "workflows,crm,erp"]
