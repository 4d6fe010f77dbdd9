"""Run the workstation server (``fracturelab workstation serve``)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fracturelab.errors import InputError
from fracturelab.workstation.db import Database
from fracturelab.workstation.settings import WorkstationSettings

if TYPE_CHECKING:
    import uvicorn

__all__ = ["LOOPBACK_HOSTS", "allowed_hosts", "proxy_addresses", "serve", "uvicorn_config"]

logger = logging.getLogger("fracturelab.workstation")

#: ``Host`` names of this machine, always answered.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_WILDCARD_BINDS = ("0.0.0.0", "::", "")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind_host: str, extra: Sequence[str] = ()) -> list[str]:
    """The ``Host`` header values the server answers: loopback names, the bind address, extras.

    Args:
        bind_host: Address the server listens on (a wildcard such as ``0.0.0.0`` adds nothing).
        extra: Names users type (``--allowed-host``), e.g. ``labels.example.org`` or
            ``*.example.org``.

    Raises:
        InputError: If a name is empty or a wildcard other than a leading ``*.``.

    """
    hosts = list(LOOPBACK_HOSTS)
    if bind_host not in _WILDCARD_BINDS:
        hosts.append(f"[{bind_host}]" if ":" in bind_host else bind_host)
    for name in extra:
        name = name.strip().lower()
        if not name or "*" in name[1:] or (name.startswith("*") and not name.startswith("*.")):
            raise InputError(
                f"--allowed-host {name!r} is not a host name; give a name such as "
                "labels.example.org or a pattern such as *.example.org"
            )
        hosts.append(name)
    return list(dict.fromkeys(hosts))


def proxy_addresses(addresses: Sequence[str]) -> list[str]:
    """Check the addresses of reverse proxies whose ``X-Forwarded-For`` is believed.

    Args:
        addresses: IP addresses or networks (``10.0.0.0/8``); items may be comma-separated.

    Raises:
        InputError: If an item is not an IP address or network (``*`` is refused: trusting
            every client lets anyone forge their address).

    """
    checked = []
    for item in (part.strip() for text in addresses for part in text.split(",")):
        if not item:
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise InputError(
                f"--forwarded-allow-ips {item!r} is not an IP address or network; give the "
                "address of your reverse proxy, e.g. 127.0.0.1 or 10.0.0.0/8"
            ) from None
        checked.append(item)
    return checked


def uvicorn_config(
    app: Any, host: str, port: int, *, forwarded_allow_ips: Sequence[str] = ()
) -> uvicorn.Config:
    """The uvicorn configuration of the workstation.

    uvicorn believes ``X-Forwarded-For``/``-Proto`` from 127.0.0.1 unless told otherwise;
    here they are believed only from ``forwarded_allow_ips``, and ignored when none are given,
    so a client cannot choose the address that login throttling and the audit see.
    """
    import uvicorn

    trusted = proxy_addresses(forwarded_allow_ips)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


def serve(
    database_url: str | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    secure_cookies: bool = False,
    cache_dir: Path | None = None,
    forwarded_allow_ips: Sequence[str] = (),
    allowed_host: Sequence[str] = (),
) -> None:
    """Check the database, then serve the workstation until interrupted.

    Args:
        database_url: Database URL; ``None`` takes ``$FRACTURELAB_DB``.
        host: Address to listen on; the default serves this machine only.
        port: TCP port.
        secure_cookies: Mark session cookies ``Secure`` (behind an HTTPS proxy).
        cache_dir: Folder for NIfTI conversions of CTs (default: a temporary folder).
        forwarded_allow_ips: Reverse proxies whose ``X-Forwarded-For`` is believed (default:
            none, the connecting address counts).
        allowed_host: ``Host`` names answered besides the loopback names and ``host``.

    Raises:
        InputError: If the database is missing, unreachable or not initialised, the port is
            not valid, ``cache_dir`` cannot be a folder, or a proxy address or host name is
            not valid.

    """
    import uvicorn

    from fracturelab.workstation.server.app import create_app

    trusted = proxy_addresses(forwarded_allow_ips)
    hosts = allowed_hosts(host, allowed_host)
    if not 0 < port < 65536:
        raise InputError(f"--port {port} is not valid; give a port between 1 and 65535")
    if cache_dir is not None:
        if Path(cache_dir).exists() and not Path(cache_dir).is_dir():
            raise InputError(f"--cache-dir {cache_dir} is a file; give a folder")
        try:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(
                f"--cache-dir {cache_dir} cannot be used as a folder ({error.strerror}); "
                "give a writable folder"
            ) from None
    database = Database(WorkstationSettings.resolve(database_url))
    try:
        database.check()
    except InputError:
        database.dispose()
        raise
    if not _is_loopback(host) and not secure_cookies:
        logger.warning(
            "serving on %s over plain HTTP: put an HTTPS proxy in front and pass "
            "--secure-cookies, or patient data and passwords travel unencrypted",
            host,
        )
    if host in _WILDCARD_BINDS and not allowed_host:
        logger.warning(
            "serving on all addresses but answering only the Host names %s; pass "
            "--allowed-host with the name users type",
            ", ".join(hosts),
        )
    app = create_app(
        database, cache_dir=cache_dir, secure_cookies=secure_cookies, allowed_hosts=hosts
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    print(f"fracturelab workstation on http://{host}:{port}/ (database {database.display_url})")
    try:
        uvicorn.Server(uvicorn_config(app, host, port, forwarded_allow_ips=trusted)).run()
    finally:
        database.dispose()
