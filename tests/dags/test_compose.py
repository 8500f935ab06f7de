"""docker-compose.yml, Dockerfile and .env.example, checked against each other and the code.

No Docker engine runs here, so the deployment is read, not started: every service
it needs is there and healthy-checked, the Airflow services run the image built from
the Dockerfile, the connections point at the services that exist, and every secret
comes from .env.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from cryptography.fernet import Fernet

from pipeline.config import load_settings
from tests.conftest import SHARED_CORPUS

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler",
                    "airflow-dag-processor", "airflow-triggerer", "airflow-worker"}
ONE_SHOT = {"secrets-check", "newsmon-init", "airflow-init"}
LONG_RUNNING = {"newsmon-db", "airflow-db", "redis", "mailpit", "newsmon-web"} | \
    AIRFLOW_SERVICES - ONE_SHOT
SIGNING_KEYS = ("NEWSMON_SECRET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY")
PASSWORDS = ("AIRFLOW_ADMIN_PASSWORD", "NEWSMON_DB_ADMIN_PASSWORD", "NEWSMON_DB_PASSWORD",
             "NEWSMON_WEB_DB_PASSWORD", "AIRFLOW_DB_PASSWORD", "REDIS_PASSWORD")
SECRETS = (*SIGNING_KEYS, *PASSWORDS, "AIRFLOW_FERNET_KEY")
_VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$`, as compose does it."""
    def value(match: re.Match) -> str:
        name, kind, arg = match.groups()
        if env.get(name):
            return env[name]
        if kind == "?":
            raise KeyError(f"{name}: {arg}")
        return arg if kind == "-" else ""

    return _VARIABLE.sub(value, text.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def raw() -> str:
    return (REPO / "docker-compose.yml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(raw) -> dict:
    return yaml.safe_load(raw)


@pytest.fixture(scope="module")
def resolved(raw) -> dict:
    return yaml.safe_load(interpolate(raw, env_example()))


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text(encoding="utf-8")


def lock_pin(package: str) -> str:
    text = (REPO / "requirements.lock").read_text(encoding="utf-8")
    return re.search(rf"^{re.escape(package)}==(\S+)$", text, re.MULTILINE).group(1)


def test_every_service_of_the_deployment_is_there(compose) -> None:
    assert set(compose["services"]) == AIRFLOW_SERVICES | LONG_RUNNING | ONE_SHOT


def test_the_file_follows_the_compose_specification(resolved) -> None:
    schema_file = SHARED_CORPUS / "schemas" / "compose-spec.json"
    if not schema_file.is_file():
        pytest.skip("../shared/corpus/schemas/compose-spec.json is not present")
    jsonschema.validate(resolved, json.loads(schema_file.read_text(encoding="utf-8")))


def test_long_running_services_have_health_checks_and_restart(compose) -> None:
    for name in LONG_RUNNING:
        service = compose["services"][name]
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "unless-stopped", name
    for name in ONE_SHOT:
        assert compose["services"][name]["restart"] == "no", name


def test_airflow_services_run_the_image_built_from_the_dockerfile(compose, dockerfile) -> None:
    images = {compose["services"][name]["image"] for name in AIRFLOW_SERVICES | {"newsmon-web"}}
    builds = {compose["services"][name]["build"] for name in AIRFLOW_SERVICES | {"newsmon-web"}}
    assert len(images) == 1 and builds == {"."}
    assert "FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}" in dockerfile
    # The image's Airflow and Python are the ones the lock (and so the tests) used.
    assert f"ARG AIRFLOW_VERSION={lock_pin('apache-airflow')}" in dockerfile
    lock_python = re.search(r"--python-version (\S+)", (REPO / "requirements.lock").read_text())
    assert f"ARG PYTHON_VERSION={lock_python.group(1)}" in dockerfile
    assert "--constraint /opt/newsmon/requirements.lock" in dockerfile
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in dockerfile
    assert "COPY --chown=airflow:0 dags /opt/airflow/dags" in dockerfile
    assert "COPY --chown=airflow:0 sql /opt/newsmon/sql" in dockerfile


def test_workers_scale_with_docker_compose_scale(compose) -> None:
    worker = compose["services"]["airflow-worker"]
    assert worker["command"] == "celery worker"
    # Two copies must not clash: no fixed name, no host port.
    assert "container_name" not in worker and "ports" not in worker
    assert not any("container_name" in s for s in compose["services"].values())


def test_airflow_is_wired_to_its_database_broker_and_api(resolved) -> None:
    env = resolved["services"]["airflow-scheduler"]["environment"]
    services = resolved["services"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    password = services["airflow-db"]["environment"]["POSTGRES_PASSWORD"]
    meta = f"airflow:{password}@airflow-db:5432/airflow"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"postgresql+psycopg://{meta}"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == f"postgresql+psycopg_async://{meta}"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == f"db+postgresql+psycopg://{meta}"
    redis_password = services["redis"]["command"][-1]
    assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{redis_password}@redis:6379/0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == \
        "http://airflow-apiserver:8080/execution/"
    assert services["airflow-apiserver"]["command"] == "api-server"
    # The scheduler's health check needs its health server on.
    assert env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert "8974/health" in " ".join(services["airflow-scheduler"]["healthcheck"]["test"])
    # Every Airflow process shares the secrets that sign its tokens.
    for name in AIRFLOW_SERVICES:
        other = services[name]["environment"]
        for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET",
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL"):
            assert other[key] == env[key], (name, key)


def test_the_connections_point_at_newsmons_database_and_the_mail_catcher(resolved) -> None:
    services = resolved["services"]
    env = services["airflow-worker"]["environment"]
    db = json.loads(env["AIRFLOW_CONN_NEWSMON_DB"])
    newsmon_db = services["newsmon-db"]["environment"]
    assert (db["conn_type"], db["host"], db["port"]) == ("postgres", "newsmon-db", 5432)
    # The login newsmon-init grants, not the superuser.
    assert (db["login"], db["password"], db["schema"]) == (
        "newsmon", env_example()["NEWSMON_DB_PASSWORD"], newsmon_db["POSTGRES_DB"])
    assert db["login"] != newsmon_db["POSTGRES_USER"]
    smtp = json.loads(env["AIRFLOW_CONN_SMTP_DEFAULT"])
    assert (smtp["conn_type"], smtp["host"], smtp["port"]) == ("smtp", "mailpit", 1025)
    assert smtp["extra"]["disable_ssl"] is True and smtp["extra"]["disable_tls"] is True
    # The newsmon command in the containers uses the same database.
    assert env["NEWSMON_DATABASE_URL"] == (
        f"postgresql://newsmon:{db['password']}@newsmon-db:5432/newsmon")


def test_the_pool_created_at_init_is_the_one_the_dags_use(compose) -> None:
    adapter = (REPO / "dags" / "newsmon_airflow.py").read_text(encoding="utf-8")
    pool = re.search(r'^NETWORK_POOL = "(\w+)"', adapter, re.MULTILINE).group(1)
    init = compose["services"]["airflow-init"]["command"][-1]
    assert f"airflow pools set {pool} " in init
    assert "airflow db migrate" in init and "newsmon db" not in init
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert compose["services"][name]["depends_on"]["airflow-init"]["condition"] == \
            "service_completed_successfully", name


def test_newsmon_settings_in_the_compose_file_exist(compose, tmp_path) -> None:
    env = compose["x-airflow-common"]["environment"]
    adapter = (REPO / "dags" / "newsmon_airflow.py").read_text(encoding="utf-8")
    dag_knobs = set(re.findall(r'env_int\("(NEWSMON_\w+)"', adapter))
    web = compose["services"]["newsmon-web"]["environment"]
    for name in {**env, **web}:
        if not name.startswith("NEWSMON_") or name in dag_knobs:
            continue
        # A misspelt variable is silently ignored; a real one reaches the settings.
        home = {"NEWSMON_HOME": str(tmp_path)}
        assert load_settings({**home, name: "probe"}) != load_settings(home), name
    assert {"NEWSMON_INGEST_EVERY_MINUTES", "NEWSMON_INGEST_SHARDS",
            "NEWSMON_ALERTS_EVERY_MINUTES", "NEWSMON_RETENTION_DAYS"} <= dag_knobs & set(env)


def test_state_lives_in_named_volumes(compose) -> None:
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source in declared, f"{name}: {mount} is not a named volume"
            used.add(source)
    assert used == declared
    for name in ("newsmon-db", "airflow-db"):
        assert compose["services"][name]["volumes"] == [
            f"{name}-data:/var/lib/postgresql/data"]


def test_secrets_come_from_the_env_file(raw, compose) -> None:
    documented = env_example()
    compose_variables = list(_VARIABLE.finditer(raw.replace("$$", "")))  # $$: the shell's
    referenced = {m.group(1) for m in compose_variables}
    assert referenced <= set(documented), referenced - set(documented)
    required = {m.group(1) for m in compose_variables if m.group(2) == "?"}
    assert set(SECRETS) <= required
    for name in required:
        assert documented[name], f"{name} has no placeholder in .env.example"
    # No literal password anywhere: each is a ${...} reference.
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key or "SECRET" in key or key.endswith("FERNET_KEY"):
                assert str(value).startswith("${"), (name, key)
    assert ".env" in (REPO / ".gitignore").read_text(encoding="utf-8").split()


def test_compose_refuses_to_start_without_the_secrets(raw) -> None:
    env = env_example()
    del env["NEWSMON_DB_PASSWORD"]
    with pytest.raises(KeyError, match="NEWSMON_DB_PASSWORD: set NEWSMON_DB_PASSWORD in .env"):
        interpolate(raw, env)


def test_newsmons_database_gets_shared_buffers_for_an_archive(resolved) -> None:
    # PostgreSQL's own 128 MB would send every near-duplicate lookup at a million articles
    # to the OS for its band-index leaves (docs/decisions.md, "Lookup cost")
    command = resolved["services"]["newsmon-db"]["command"]
    settings = dict(arg.split("=", 1) for arg in command if "=" in arg)
    amount = re.fullmatch(r"(\d+)(MB|GB)", settings["shared_buffers"])
    assert amount, settings["shared_buffers"]
    megabytes = int(amount[1]) * (1024 if amount[2] == "GB" else 1)
    assert megabytes >= 1024
    assert settings["huge_pages"] == "try"


# --- blast radius ---------------------------------------------------------------------------

def strong_env() -> dict[str, str]:
    """.env.example with every secret set as .env.example says to make it."""
    env = env_example()
    for name in SECRETS:
        env[name] = secrets.token_hex(32)
    env["AIRFLOW_FERNET_KEY"] = Fernet.generate_key().decode()
    return env


def services_knowing(resolved: dict, value: str) -> set[str]:
    """The services whose environment, command or healthcheck contains `value`."""
    return {name for name, service in resolved["services"].items()
            if value in json.dumps([service.get("environment"), service.get("command"),
                                    service.get("healthcheck")])}


def test_the_web_container_gets_only_what_its_pages_need(compose, raw) -> None:
    env = strong_env()
    resolved = yaml.safe_load(interpolate(raw, env))
    web = resolved["services"]["newsmon-web"]
    assert set(web["environment"]) == {"CONNECTION_CHECK_MAX_COUNT", "NEWSMON_DATABASE_URL",
                                       "NEWSMON_SECRET_KEY", "NEWSMON_PUBLIC_URL",
                                       "NEWSMON_WATCHLIST"}
    assert web["environment"]["NEWSMON_DATABASE_URL"] == (
        f"postgresql://newsmon_web:{env['NEWSMON_WEB_DB_PASSWORD']}@newsmon-db:5432/newsmon")
    assert "volumes" not in web
    for name in SECRETS:
        if name not in ("NEWSMON_WEB_DB_PASSWORD", "NEWSMON_SECRET_KEY"):
            assert "newsmon-web" not in services_knowing(resolved, env[name]), name
    # On a network of its own with newsmon-db: not Redis, not Airflow, not its database.
    assert web["networks"] == ["web"]
    on_web = {name for name, service in compose["services"].items()
              if "web" in service.get("networks", [])}
    assert on_web == {"newsmon-web", "newsmon-db"}


def test_the_superuser_is_known_to_the_database_and_its_init_service_only(raw) -> None:
    env = strong_env()
    resolved = yaml.safe_load(interpolate(raw, env))
    assert services_knowing(resolved, env["NEWSMON_DB_ADMIN_PASSWORD"]) == {
        "newsmon-db", "newsmon-init", "secrets-check"}
    assert resolved["services"]["newsmon-db"]["environment"]["POSTGRES_USER"] == "postgres"
    # Every other login to newsmon's database is one newsmon-init granted.
    for name, service in resolved["services"].items():
        url = (service.get("environment") or {}).get("NEWSMON_DATABASE_URL")
        if url and name != "newsmon-init":
            assert url.split("://")[1].split(":")[0] in {"newsmon", "newsmon_web"}, name
    init = resolved["services"]["newsmon-init"]
    assert init["environment"]["NEWSMON_DATABASE_URL"].startswith(
        f"postgresql://postgres:{env['NEWSMON_DB_ADMIN_PASSWORD']}@newsmon-db:5432/")
    assert init["command"][-1].split("\n")[:3] == [
        "newsmon db migrate",
        "newsmon db grant-login newsmon --role owner --password-env NEWSMON_DB_PASSWORD",
        "newsmon db grant-login newsmon_web --role web --password-env NEWSMON_WEB_DB_PASSWORD"]


def test_no_port_is_published_beyond_loopback(resolved) -> None:
    published = {name: service["ports"] for name, service in resolved["services"].items()
                 if "ports" in service}
    assert set(published) == {"newsmon-db", "mailpit", "airflow-apiserver", "newsmon-web"}
    for name, ports in published.items():
        for port in ports:
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), (name, port)
    assert "127.0.0.1:8080:8080" in published["airflow-apiserver"]


def test_every_service_waits_for_the_secrets_check(compose) -> None:
    for name, service in compose["services"].items():
        if name != "secrets-check":
            assert service["depends_on"]["secrets-check"] == {
                "condition": "service_completed_successfully"}, name
    assert "depends_on" not in compose["services"]["secrets-check"]


@pytest.fixture(scope="module")
def secrets_check(compose) -> str:
    """The script the secrets-check service runs, as compose hands it to bash."""
    command = compose["services"]["secrets-check"]["command"]
    assert command[:2] == ["bash", "-euc"]
    script = interpolate(command[2], {})
    assert "$" not in command[2].replace("$$", ""), "a bare $ is compose's, not the shell's"
    return script


def run_check(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    values = {name: env[name] for name in SECRETS}
    return subprocess.run(["bash", "-euc", script], env={"PATH": "/usr/bin:/bin", **values},
                          capture_output=True, text=True, check=False, timeout=60)


def test_the_secrets_check_refuses_the_example_file_as_shipped(secrets_check) -> None:
    done = run_check(secrets_check, env_example())
    assert done.returncode != 0
    for name in SECRETS:
        assert f"secrets-check: {name} is a placeholder" in done.stderr, name


@pytest.mark.parametrize("name", SECRETS)
@pytest.mark.parametrize("value, reason", [
    ("change-me", "is a placeholder or a known-weak value"),
    ("CHANGEME" + "0123456789abcdef" * 3, "is a placeholder or a known-weak value"),
    ("Password1234567890Password1234567890xyzw", "is a placeholder or a known-weak value"),
    ("a1b2c3d4e5f6g7h", "is shorter than"),
    ("ab" * 30, "repeats too few characters"),
])
def test_the_secrets_check_refuses_weak_values(secrets_check, name, value, reason) -> None:
    env = strong_env()
    env[name] = value
    done = run_check(secrets_check, env)
    assert done.returncode != 0
    assert f"secrets-check: {name} {reason}" in done.stderr
    assert done.stderr.count("secrets-check:") == 1  # the others are fine


@pytest.mark.parametrize("name, value, reason", [
    ("NEWSMON_SECRET_KEY", secrets.token_hex(15), "is shorter than 32 characters"),
    ("AIRFLOW_ADMIN_PASSWORD", "x7Kp2mQ9", "is shorter than 16 characters"),
    ("NEWSMON_DB_PASSWORD", "9f3k2j4h5g6f7d8s@x", "must be letters and digits only"),
    ("REDIS_PASSWORD", "9f3k2j4h5g6f7d8s/x", "must be letters and digits only"),
    ("AIRFLOW_FERNET_KEY", secrets.token_hex(22), "is not a Fernet key"),
])
def test_the_secrets_check_knows_each_secrets_own_rule(secrets_check, name, value,
                                                       reason) -> None:
    env = strong_env()
    env[name] = value
    done = run_check(secrets_check, env)
    assert done.returncode != 0 and f"secrets-check: {name} {reason}" in done.stderr


def test_the_secrets_check_accepts_strong_values(secrets_check) -> None:
    env = strong_env()
    env["AIRFLOW_ADMIN_PASSWORD"] = "Tr0ub4dor&3-horse-battery"  # any characters: not in a URL
    done = run_check(secrets_check, env)
    assert (done.returncode, done.stderr) == (0, "")
