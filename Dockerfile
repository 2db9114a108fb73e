# One image for the web server and the Celery worker (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DATA_DIR=/data
WORKDIR /app

# The dependencies from pyproject.toml alone, so that a change to the code reuses this layer. The CPU
# build of torch first, so sentence-transformers does not pull a CUDA build. python-ldap (for LDAP sign-in)
# has no Linux wheels: it is compiled against OpenLDAP's headers, which go again; its libraries stay.
# OpenCV (brought by rapidocr-onnxruntime, for OCR) loads libGL and GLib when imported.
COPY pyproject.toml ./
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libldap2-dev libsasl2-dev libgl1 libglib2.0-0 \
    && apt-mark manual libldap-2.5-0 libsasl2-2 \
    && pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
       > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && apt-get purge -y --auto-remove gcc libc6-dev libldap2-dev libsasl2-dev \
    && rm -rf /tmp/requirements.txt /var/lib/apt/lists/*
# The project as a whole (.dockerignore keeps out secrets, local data, tests and caches). It runs from
# here, as in a checkout: manage.py, uvicorn and celery import the apps from the working directory.
COPY . .
RUN DATA_DIR=/tmp/build python manage.py collectstatic --noinput --verbosity 0

RUN useradd --create-home --uid 1000 app && mkdir -p /data && chown app /data
USER app
VOLUME /data
EXPOSE 8000
# WEB_CONCURRENCY web processes (default: the cores the container may use); on SIGTERM answers streaming
# get SHUTDOWN_GRACE_SECONDS to finish (chatsite/web_server.py), so give it that much more to stop.
CMD ["python", "-m", "chatsite.web_server", "--host", "0.0.0.0", "--port", "8000"]
