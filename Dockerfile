# One image for the web server and the Celery worker (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DATA_DIR=/data
WORKDIR /app

COPY pyproject.toml ./
COPY chatsite chatsite
COPY knowledge knowledge
COPY chat chat
COPY api api
# The CPU build of torch first, so sentence-transformers does not pull a CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && pip install .
COPY manage.py ./
COPY templates templates
COPY static static
COPY locale locale
RUN DATA_DIR=/tmp/build python manage.py collectstatic --noinput --verbosity 0

RUN useradd --create-home --uid 1000 app && mkdir -p /data && chown app /data
USER app
VOLUME /data
EXPOSE 8000
CMD ["python", "-m", "uvicorn", "chatsite.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
