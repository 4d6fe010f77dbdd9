"""A small client of Orthanc's REST API: the change feed, series download, instance upload.

Only what ``batch watch`` needs: ``GET /changes`` (the change feed), ``GET /series/{id}``,
``GET /instances/{id}/file`` and ``POST /instances``. A server that cannot be reached, or
answers with a server error, is retried a bounded number of times with exponential backoff;
then :class:`OrthancError` says, in one line, what failed and what to check. Nothing is
logged about the patients: messages name Orthanc's opaque identifiers only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fracturelab.errors import FracturelabError
from fracturelab.typing import PathLike

__all__ = ["Change", "ChangePage", "OrthancClient", "OrthancError", "SeriesInfo"]


class OrthancError(FracturelabError):
    """Orthanc could not be reached, or refused a request (one line: what, why, what to check).

    Attributes:
        status_code: The HTTP status Orthanc answered, ``None`` when it could not be reached.

    """

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Change:
    """One entry of Orthanc's change feed.

    Attributes:
        seq: Its sequence number (increasing).
        change_type: ``StableSeries``, ``NewInstance``, ...
        resource_type: ``Series``, ``Instance``, ...
        resource_id: Orthanc's identifier of the resource.

    """

    seq: int
    change_type: str
    resource_type: str
    resource_id: str


@dataclass(frozen=True)
class ChangePage:
    """A page of the change feed: its changes, the last sequence number, whether it is the end."""

    changes: list[Change]
    last: int
    done: bool


@dataclass(frozen=True)
class SeriesInfo:
    """What Orthanc knows of a series (no patient data).

    Attributes:
        orthanc_id: Orthanc's identifier of the series.
        series_uid: SeriesInstanceUID.
        modality: The series' Modality (``CT``, ``MR``, ``SR`` ...; empty if absent).
        instances: Orthanc's identifiers of its instances.

    """

    orthanc_id: str
    series_uid: str
    modality: str
    instances: list[str] = field(default_factory=list)


class OrthancClient:
    """A client of one Orthanc server's REST API.

    Args:
        url: The server's base URL (``http://127.0.0.1:8042``).
        auth: ``(user, password)`` for HTTP basic authentication, if the server requires it.
        timeout_s: Timeout of one request, in seconds.
        retries: How many times a failed request is tried again (connection errors, timeouts
            and 5xx answers); client errors (4xx) are not retried.
        backoff_s: The first wait between tries; it doubles after each failure.
        sleep: The function that waits (tests pass a fake one).

    """

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        timeout_s: float = 30.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise OrthancError(
                f"--orthanc {url!r} is not an Orthanc URL; write it as http://host:8042"
            )
        self.url = url.rstrip("/")
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.url, auth=auth, timeout=timeout_s)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> OrthancClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        wait = self.backoff_s
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(wait)
                wait *= 2
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.HTTPError as error:
                problem = f"cannot reach it ({type(error).__name__}: {error})"
                continue
            if response.status_code >= 500:
                problem = f"it answered HTTP {response.status_code}"
                continue
            if response.status_code in (401, 403):
                raise OrthancError(
                    f"Orthanc {self.url} refused {method} {path} (HTTP {response.status_code}); "
                    "check the credentials and that RemoteAccessAllowed lets this host in",
                    response.status_code,
                )
            if response.status_code >= 400:
                raise OrthancError(
                    f"Orthanc {self.url}: {method} {path} failed with HTTP "
                    f"{response.status_code}; check the URL and that the resource exists",
                    response.status_code,
                )
            return response
        raise OrthancError(
            f"Orthanc {self.url}: {method} {path} failed after {self.retries + 1} tries, "
            f"{problem}; check that Orthanc runs and the --orthanc URL is right"
        )

    def _json(self, path: str, **params: Any) -> Any:
        response = self._request("GET", path, params=params or None)
        try:
            return response.json()
        except ValueError:
            raise OrthancError(
                f"Orthanc {self.url}: GET {path} did not answer JSON; is this an Orthanc server?"
            ) from None

    def system(self) -> dict[str, Any]:
        """``GET /system``: the server's name and version (checks that it is reachable)."""
        data = self._json("/system")
        if not isinstance(data, dict) or "Version" not in data:
            raise OrthancError(f"{self.url} does not answer like Orthanc; check the --orthanc URL")
        return data

    def changes(self, since: int = 0, limit: int = 100) -> ChangePage:
        """``GET /changes?since=&limit=``: the changes after sequence number ``since``."""
        data = self._json("/changes", since=since, limit=limit)
        changes = [
            Change(
                seq=int(item["Seq"]),
                change_type=str(item.get("ChangeType", "")),
                resource_type=str(item.get("ResourceType", "")),
                resource_id=str(item.get("ID", "")),
            )
            for item in data.get("Changes", [])
        ]
        return ChangePage(
            changes=changes, last=int(data.get("Last", since)), done=bool(data.get("Done", True))
        )

    def last_change(self) -> int:
        """The sequence number of the newest change (``GET /changes?last``)."""
        data = self._json("/changes", last="")
        return int(data.get("Last", 0))

    def series(self, orthanc_id: str) -> SeriesInfo:
        """``GET /series/{id}``: SeriesInstanceUID, Modality and the instances of a series."""
        data = self._json(f"/series/{orthanc_id}")
        tags = data.get("MainDicomTags", {})
        return SeriesInfo(
            orthanc_id=orthanc_id,
            series_uid=str(tags.get("SeriesInstanceUID", "")),
            modality=str(tags.get("Modality", "")).upper(),
            instances=[str(i) for i in data.get("Instances", [])],
        )

    def download_instance(self, orthanc_id: str, path: PathLike) -> Path:
        """``GET /instances/{id}/file`` into ``path`` (written whole or not at all)."""
        content = self._request("GET", f"/instances/{orthanc_id}/file").content
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(content)
        partial.replace(target)
        return target

    def upload(self, dicom: bytes) -> dict[str, Any]:
        """``POST /instances``: store a DICOM file; Orthanc's answer (``ID``, ``Status``)."""
        response = self._request(
            "POST", "/instances", content=dicom, headers={"Content-Type": "application/dicom"}
        )
        data = response.json()
        if not isinstance(data, dict) or "ID" not in data:
            raise OrthancError(f"Orthanc {self.url} did not store the instance ({data!r:.80})")
        return data
