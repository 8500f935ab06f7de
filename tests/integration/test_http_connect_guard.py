"""The SSRF check at connect time, against real loopback servers and a DNS the test plays.

Names end in .test, which no real resolver answers: a fetch that succeeds went to the
address the test's DNS gave, never through a second lookup of its own. 127.0.0.2 and up
stand for the public internet (let through by `allowed_networks`); 127.0.0.1 stands for the
machine's own services. Every answer is a loopback address, so a broken guard could only
ever reach loopback.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import anyio
import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pipeline.config import Settings
from pipeline.http import FetchError, HttpClient
from pipeline.http.guard import AddressPolicy, RefusedAddress, parse_networks
from pipeline.http.transport import GuardedBackend, GuardedTransport
from tests.integration.test_http import make_settings
from tests.support.loopback import LoopbackServer, Reply, redirect

pytestmark = pytest.mark.anyio

CLOSE = {"connection": "close"}  # the next request needs a new connection, so a new lookup


class ScriptedDns:
    """Answers each lookup of a name with its next answer (the last one repeats)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        script = self.answers[host]
        return script.pop(0) if len(script) > 1 else script[0]


@pytest.fixture
def serve() -> Iterator[Callable[..., LoopbackServer]]:
    with ExitStack() as stack:
        yield lambda routes=None, **kw: stack.enter_context(LoopbackServer(routes, **kw))


def guarded(**overrides: object) -> Settings:
    return make_settings(**{"allow_private_networks": False,
                            "allowed_networks": ("127.0.0.2/32",), **overrides})


async def fetch(url: str, dns: ScriptedDns, settings: Settings | None = None, **kwargs):
    async with HttpClient(settings or guarded(), resolve=dns) as client:
        return await client.fetch(url, **kwargs)


async def fetch_error(url: str, dns: ScriptedDns, settings: Settings | None = None,
                      **kwargs) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetch(url, dns, settings, **kwargs)
    return caught.value


def twin_servers(serve, routes: dict) -> tuple[LoopbackServer, LoopbackServer]:
    """The outside site on 127.0.0.2 and an inside one on 127.0.0.1, on the same port, so
    a rebound answer would really reach the inside one."""
    for _attempt in range(5):
        inside = serve({path: Reply(body=b"internal secret") for path in routes},
                       host="127.0.0.1")
        try:
            return serve(routes, host="127.0.0.2", port=inside.port), inside
        except OSError:  # that port is taken on 127.0.0.2 by someone else: pick another
            continue
    raise RuntimeError("no port free on both 127.0.0.1 and 127.0.0.2")


@pytest.mark.parametrize("private", [False, True])
async def test_connects_to_the_vetted_address_after_one_lookup(serve, private):
    server = serve({"/feed": Reply(body=b"<rss/>")}, host="127.0.0.2")
    dns = ScriptedDns({"news.rebind.test": [["127.0.0.2"]]})
    url = f"http://news.rebind.test:{server.port}/feed"
    assert (await fetch(url, dns, guarded(allow_private_networks=private))).body == b"<rss/>"
    assert dns.lookups == ["news.rebind.test"]
    assert server.requests_to("/feed")[0].headers["host"] == f"news.rebind.test:{server.port}"


async def test_a_rebound_answer_on_retry_is_refused(serve):
    outside, inside = twin_servers(serve, {"/feed": Reply(status=503, headers=CLOSE)})
    dns = ScriptedDns({"news.rebind.test": [["127.0.0.2"], ["127.0.0.1"]]})
    error = await fetch_error(f"http://news.rebind.test:{outside.port}/feed", dns)
    assert (error.kind, error.retryable) == ("ssrf", False)
    assert "news.rebind.test resolves to loopback address 127.0.0.1" in str(error)
    assert dns.lookups == ["news.rebind.test"] * 2
    assert outside.count("/feed") == 1 and inside.requests == []


async def test_a_rebound_answer_on_redirect_is_refused(serve):
    outside, inside = twin_servers(serve, {"/go": Reply(status=302, headers={
        "location": "/admin", **CLOSE}), "/admin": Reply(body=b"public admin")})
    dns = ScriptedDns({"news.rebind.test": [["127.0.0.2"], ["127.0.0.1"]]})
    error = await fetch_error(f"http://news.rebind.test:{outside.port}/go", dns)
    assert error.kind == "ssrf" and "loopback address 127.0.0.1" in str(error)
    assert outside.count("/admin") == 0 and inside.requests == []


async def test_a_redirect_to_a_name_that_resolves_inside_is_refused(serve):
    inside = serve({"/admin": Reply(body=b"internal secret")}, host="127.0.0.1")
    outside = serve({"/go": redirect(f"http://admin.inside.test:{inside.port}/admin")},
                    host="127.0.0.2")
    dns = ScriptedDns({"news.test": [["127.0.0.2"]], "admin.inside.test": [["127.0.0.1"]]})
    error = await fetch_error(f"http://news.test:{outside.port}/go", dns)
    assert error.kind == "ssrf" and "admin.inside.test resolves to loopback" in str(error)
    assert inside.requests == []


async def test_every_address_of_a_name_must_pass(serve):
    outside, inside = twin_servers(serve, {"/feed": Reply(body=b"<rss/>")})
    dns = ScriptedDns({"news.test": [["127.0.0.2", "127.0.0.1"]]})
    error = await fetch_error(f"http://news.test:{outside.port}/feed", dns)
    assert error.kind == "ssrf" and "127.0.0.1" in str(error)
    assert outside.requests == [] and inside.requests == []


async def test_robots_txt_fetches_pass_the_same_check(serve):
    inside = serve({"/robots.txt": Reply(body=b"User-agent: *\nAllow: /\n"),
                    "/news/a": Reply(body=b"internal secret")}, host="127.0.0.1")
    dns = ScriptedDns({"news.test": [["127.0.0.1"]]})
    error = await fetch_error(f"http://news.test:{inside.port}/news/a", dns, robots=True)
    assert error.kind == "ssrf"
    assert dns.lookups == ["news.test"] * 2  # robots.txt, then the page: both refused
    assert inside.requests == []


async def test_unchanged_feeds_and_redirects_reuse_one_vetted_connection(serve):
    # A 304 and a redirect carry no body we keep; the connection still goes back to the pool.
    server = serve({"/feed": Reply(status=304, headers={"etag": '"v1"'}),
                    "/old": redirect("/feed", status=301)}, host="127.0.0.2")
    dns = ScriptedDns({"news.test": [["127.0.0.2"]]})
    async with HttpClient(guarded(), resolve=dns) as client:
        for path in ("/feed", "/old", "/feed"):
            response = await client.fetch(f"http://news.test:{server.port}{path}", etag='"v1"')
            assert response.status == 304
    assert server.count("/feed") == 3 and server.count("/old") == 1
    assert len({r.client_port for r in server.requests}) == 1  # one TCP connection
    assert dns.lookups == ["news.test"]  # vetted once, when that connection was made


async def test_a_pooled_connection_is_never_lent_to_another_name(serve):
    # news.test's connection to 127.0.0.2 is in the pool; inside.test names the same port on
    # 127.0.0.1 and must get its own lookup and check, not the pooled connection.
    outside, inside = twin_servers(serve, {"/feed": Reply(status=304)})
    dns = ScriptedDns({"news.test": [["127.0.0.2"]], "inside.test": [["127.0.0.1"]]})
    async with HttpClient(guarded(), resolve=dns) as client:
        await client.fetch(f"http://news.test:{outside.port}/feed", etag='"v1"')
        with pytest.raises(FetchError) as caught:
            await client.fetch(f"http://inside.test:{outside.port}/feed", etag='"v1"')
    assert caught.value.kind == "ssrf" and "inside.test resolves to loopback" in str(caught.value)
    assert dns.lookups == ["news.test", "inside.test"]
    assert outside.count("/feed") == 1 and inside.requests == []


class LoopbackOnly(httpcore.AnyIOBackend):
    """The real backend, with a safety net: a broken guard fails the test, sends nothing."""

    def __init__(self) -> None:
        self.connected: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, *args, **kwargs):
        assert ipaddress.ip_address(host).is_loopback, f"test tried to reach {host}"
        self.connected.append((host, port))
        return await super().connect_tcp(host, port, *args, **kwargs)


async def test_with_private_networks_allowed_names_still_never_reach_metadata(serve):
    server = serve({}, host="127.0.0.1")
    dns = ScriptedDns({"news.test": [["127.0.0.1"]],
                       "meta.test": [["::ffff:169.254.169.254"]],
                       "meta6.test": [["127.0.0.1", "fd00:ec2::254"]]})
    connector = LoopbackOnly()
    backend = GuardedBackend(AddressPolicy(allow_private=True), resolve=dns, backend=connector)
    stream = await backend.connect_tcp("news.test", server.port)
    await stream.aclose()
    for name in ("meta.test", "meta6.test"):
        with pytest.raises(RefusedAddress, match=r"cloud-metadata address .* \(never allowed\)"):
            await backend.connect_tcp(name, 80)
    assert connector.connected == [("127.0.0.1", server.port)]


async def test_a_failed_lookup_is_a_connect_error_and_a_hanging_one_times_out():
    async def no_such_name(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def hanging(host: str, port: int) -> list[str]:
        await anyio.sleep_forever()
        return []

    error = await fetch_error("http://gone.test/feed", no_such_name, guarded(retries=0))
    assert (error.kind, error.retryable) == ("connect", True)
    assert "cannot resolve gone.test: Name or service not known" in str(error)
    error = await fetch_error("http://slow.test/feed", hanging,
                              guarded(retries=0, connect_timeout_s=0.2))
    assert (error.kind, error.retryable) == ("timeout", True)


async def test_proxy_variables_in_the_environment_are_ignored(serve, monkeypatch):
    proxy = serve({}, host="127.0.0.1")  # a proxy would be a way around the check
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy.base_url)
    server = serve({"/feed": Reply(body=b"<rss/>")}, host="127.0.0.2")
    dns = ScriptedDns({"news.test": [["127.0.0.2"]]})
    assert (await fetch(f"http://news.test:{server.port}/feed", dns)).body == b"<rss/>"
    assert proxy.requests == []


# -- TLS stays on the name -------------------------------------------------------------
def tls_pair(name: str, tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting only it) for a self-signed cert of `name`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return server, ssl.create_default_context(cafile=tmp_path / "cert.pem")


async def test_tls_sni_certificate_and_host_stay_on_the_name(serve, tmp_path):
    server_tls, client_tls = tls_pair("news.example.test", tmp_path)
    sni: list[str | None] = []
    server_tls.sni_callback = lambda _sock, name, _ctx: sni.append(name)
    server = serve({"/feed": Reply(body=b"<rss/>")}, host="127.0.0.2", tls=server_tls)
    dns = ScriptedDns({"news.example.test": [["127.0.0.2"]],
                       "other.example.test": [["127.0.0.2"]]})
    policy = AddressPolicy(networks=parse_networks(["127.0.0.2/32"]))
    transport = GuardedTransport(policy, limits=httpx.Limits(), resolve=dns, verify=client_tls)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(f"https://news.example.test:{server.port}/feed")
        assert (response.status_code, response.content) == (200, b"<rss/>")
        # Same address, another name: the certificate is checked against the name asked for.
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            await client.get(f"https://other.example.test:{server.port}/feed")
    assert sni == ["news.example.test", "other.example.test"]
    assert server.requests_to("/feed")[0].headers["host"] == f"news.example.test:{server.port}"
    assert server.count("/feed") == 1
