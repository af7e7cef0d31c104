"""HTTPS ended by nginx, from pillar (`web:tls`), on one Debian 13 target through salt-ssh: a certificate from ACME,
issued for real by a local ACME server, and one from files the pillar names.

The ACME server is Debian's `pebble` (Let's Encrypt's test server) on the target's loopback, never a public CA: it
sends its http-01 challenge to port 80 of the name, which /etc/hosts points at the target itself. certbot trusts
pebble's listener through `web:tls:acme:ca_bundle`; this machine trusts the issued certificate through pebble's
issuing root. Requests come from this machine with the site's name (SNI and Host) to the target's address.
"""

import http.client
import json
import socket
import ssl

import pytest

from tests.support.converge import assert_converged, why
from tests.support.gazette import GAZETTE_REPO, make_gazette_repository

pytestmark = [pytest.mark.integration, pytest.mark.platforms("debian13")]

ACME_HOST, FILES_HOST = "www.example.org", "files.example.org"
PEBBLE = "/etc/pebble"
PEBBLE_CONFIG = {
    "pebble": {
        "listenAddress": "127.0.0.1:14000",
        "managementListenAddress": "127.0.0.1:15000",
        "certificate": f"{PEBBLE}/listener.pem",
        "privateKey": f"{PEBBLE}/listener.key",
        "httpPort": 80,
        "tlsPort": 5001,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": False,
    }
}
FILES_CERT, FILES_KEY = "/etc/ssl/certs/files.example.org.pem", "/etc/ssl/private/files.example.org.key"
OUTPUTS = []


def project(host, tls, listen):
    return {
        "source": GAZETTE_REPO,
        "rev": "v1",
        "settings_module": "gazette.settings.production",
        "env": {"DJANGO_ALLOWED_HOSTS": host, "DJANGO_SECURE_SSL_REDIRECT": "1"},
        "secrets": {"DJANGO_SECRET_KEY": "tls-test-secret-key-never-shown-anywhere"},
        "shared_paths": ["media", "var"],
        "health_check_path": "/health/",
        "web": {"workers": 2, "server_name": host, "bind": "unix", "tls": tls, "listen": listen},
    }


def pillar():
    acme = {
        "mode": "acme",
        "hsts": 31536000,
        "acme": {"server": "https://127.0.0.1:14000/dir", "ca_bundle": f"{PEBBLE}/listener.pem"},
    }
    files = {"mode": "files", "certificate": FILES_CERT, "key": FILES_KEY, "listen": 8443, "redirect": False}
    return {
        "sparks": {
            "django": {
                "projects": {
                    "gazette": project(ACME_HOST, acme, 80),
                    "gazettefiles": {**project(FILES_HOST, files, 8080), "project": "gazettefiles"},
                }
            }
        }
    }


def request(target, host, port=443, path="/", ca=None):
    """(status, headers, body) of a GET to the target's address with ``host`` as SNI and Host; ``ca``: the PEM the
    certificate must chain to (None: plain HTTP)."""
    if ca is None:
        connection = http.client.HTTPConnection(target.address, port, timeout=10)
    else:
        context = ssl.create_default_context(cadata=ca)
        sock = socket.create_connection((target.address, port), timeout=10)
        connection = http.client.HTTPSConnection(host, port, timeout=10)
        connection.sock = context.wrap_socket(sock, server_hostname=host)
    connection.request("GET", path, headers={"Host": host})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read().decode()


@pytest.fixture(scope="module")
def site(target_run, salt_ssh):
    (target,) = target_run.boot("tls1", platform="debian13")
    make_gazette_repository(target.root / GAZETTE_REPO.lstrip("/"))
    target.run(
        "apt-get install -y -qq --no-install-recommends pebble openssl >/dev/null && "
        f"mkdir -p {PEBBLE} && cd {PEBBLE} && "
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
        "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout listener.key -out listener.pem 2>/dev/null && "
        f"openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN={FILES_HOST} "
        f"-addext subjectAltName=DNS:{FILES_HOST} -keyout {FILES_KEY} -out {FILES_CERT} 2>/dev/null && "
        f"echo '127.0.0.1 {ACME_HOST}' >>/etc/hosts",
        check=True,
        timeout=600,
    )
    target.run(f"cat >{PEBBLE}/config.json", input=json.dumps(PEBBLE_CONFIG), check=True)
    target.run(
        "systemd-run --unit sparks-test-pebble --setenv PEBBLE_VA_NOSLEEP=1 --setenv PEBBLE_WFE_NONCEREJECT=0 "
        f"pebble -config {PEBBLE}/config.json",
        check=True,
    )
    salt_ssh.set_pillar(pillar())
    first = salt_ssh.run(target.name, "state.apply", "django")
    OUTPUTS.append(first.stdout + first.stderr)
    yield target, first
    salt_ssh.set_pillar({})
    target_run.shutdown(target)


def pebble_root(target):
    fetch = (
        "import ssl, urllib.request\n"
        "print(urllib.request.urlopen('https://127.0.0.1:15000/roots/0', "
        "context=ssl._create_unverified_context()).read().decode())\n"
    )
    return target.run("python3 -", input=fetch, check=True).stdout


def test_acme_certificate_is_issued_and_served_with_hsts(site):
    target, first = site
    assert first.returncode == 0, why(first, target)
    status, headers, body = request(target, ACME_HOST, ca=pebble_root(target))
    assert (status, body) == (200, "gazette v1")
    assert headers["Strict-Transport-Security"] == "max-age=31536000"


def test_plain_http_redirects_except_acme_challenges(site):
    target, _ = site
    status, headers, _ = request(target, ACME_HOST, port=80, path="/health/")
    assert status == 301 and headers["Location"] == f"https://{ACME_HOST}/health/"
    challenges = "/var/lib/sparks/acme/.well-known/acme-challenge"  # certbot removes its own tokens when done
    target.run(f"mkdir -p {challenges} && echo token >{challenges}/probe", check=True)
    assert request(target, ACME_HOST, port=80, path="/.well-known/acme-challenge/probe")[::2] == (200, "token\n")


def test_certificate_files_named_in_pillar(site):
    target, _ = site
    ca = target.read(FILES_CERT)
    status, headers, body = request(target, FILES_HOST, port=8443, ca=ca)
    assert (status, body) == (200, "gazette v1") and "Strict-Transport-Security" not in headers
    # No redirect asked for: plain HTTP still serves (Django itself sends it to https: SECURE_SSL_REDIRECT).
    assert request(target, FILES_HOST, port=8080)[0] == 301


def test_second_apply_changes_nothing(site, salt_ssh):
    target, first = site
    second = salt_ssh.run(target.name, "state.apply", "django")
    OUTPUTS.append(second.stdout + second.stderr)
    assert_converged(first, second, target.name)


def test_renewal_reloads_nginx_through_its_check(site):
    target, _ = site
    before = target.run("openssl x509 -noout -serial -in /etc/letsencrypt/live/django-gazette-production/cert.pem")
    renewed = target.run(
        "REQUESTS_CA_BUNDLE=/etc/pebble/listener.pem certbot renew --force-renewal --no-random-sleep-on-renew",
        timeout=300,
    )
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    after = target.run("openssl x509 -noout -serial -in /etc/letsencrypt/live/django-gazette-production/cert.pem")
    assert before.stdout != after.stdout
    # The deploy hook ran: nginx -t passed, then the reload (certbot shows what the hook printed).
    output = renewed.stdout + renewed.stderr
    assert "Hook 'deploy-hook' ran" in output and "test is successful" in output, output
    assert request(target, ACME_HOST, ca=pebble_root(target))[0] == 200


def test_secret_never_in_state_output(site):
    for output in OUTPUTS:
        assert "tls-test-secret-key-never-shown-anywhere" not in output
