"""Run the workstation server (``fracturelab workstation serve``)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

from fracturelab.workstation.db import Database
from fracturelab.workstation.settings import WorkstationSettings

__all__ = ["serve"]

logger = logging.getLogger("fracturelab.workstation")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    database_url: str | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    secure_cookies: bool = False,
    cache_dir: Path | None = None,
) -> None:
    """Check the database, then serve the workstation until interrupted.

    Args:
        database_url: Database URL; ``None`` takes ``$FRACTURELAB_DB``.
        host: Address to listen on; the default serves this machine only.
        port: TCP port.
        secure_cookies: Mark session cookies ``Secure`` (behind an HTTPS proxy).
        cache_dir: Folder for NIfTI conversions of CTs (default: a temporary folder).

    Raises:
        InputError: If the database is missing, unreachable or not initialised, the port is
            not valid, or ``cache_dir`` cannot be a folder.

    """
    import uvicorn

    from fracturelab.errors import InputError
    from fracturelab.workstation.server.app import create_app

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
    app = create_app(database, cache_dir=cache_dir, secure_cookies=secure_cookies)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    print(f"fracturelab workstation on http://{host}:{port}/ (database {database.display_url})")
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
    finally:
        database.dispose()
