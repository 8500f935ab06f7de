# newsmon on the official Apache Airflow image: the pipeline package, its dependencies
# pinned by requirements.lock (the versions the test suite ran with), and the DAGs.
#
#   docker compose build          (docker-compose.yml builds this for every Airflow service)
#
# Keep AIRFLOW_VERSION equal to the apache-airflow pin in requirements.lock, and
# PYTHON_VERSION to the --python-version the lock was compiled for.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}
ARG AIRFLOW_VERSION

COPY --chown=airflow:0 pyproject.toml requirements.lock README.md /opt/newsmon/
COPY --chown=airflow:0 pipeline /opt/newsmon/pipeline
COPY --chown=airflow:0 sql /opt/newsmon/sql

# The wheel, as users install it (it carries the migrations as pipeline/sql); Airflow pinned
# to the image's own version so the lock cannot move it.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /tmp/dist /opt/newsmon \
    && pip install --no-cache-dir --constraint /opt/newsmon/requirements.lock \
        "apache-airflow==${AIRFLOW_VERSION}" "$(ls /tmp/dist/newsmon-*.whl)[airflow]" \
    && rm -rf /tmp/dist

COPY --chown=airflow:0 dags /opt/airflow/dags
