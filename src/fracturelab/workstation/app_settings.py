"""Server-wide settings that admins change in the browser, stored in ``app_settings``.

Not to be confused with :mod:`.settings`, which says where the database is. Every change is
audited (action ``setting``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from fracturelab.workstation import audit
from fracturelab.workstation.models import AppSetting, User, utc_now

__all__ = ["SHOW_PATIENT_NAMES", "get_flag", "set_flag"]

#: The admin setting that lets the UI show DICOM patient names (off by default).
SHOW_PATIENT_NAMES = "show_patient_names"


def get_flag(session: Session, key: str) -> bool:
    """The on/off setting ``key``; ``False`` when it was never set."""
    setting = session.get(AppSetting, key)
    return bool(setting is not None and setting.value)


def set_flag(session: Session, key: str, value: bool, by: User, client: str | None = None) -> bool:
    """Turn the setting ``key`` on or off, audited when it changes; the caller commits.

    Args:
        session: Open session.
        key: The setting, e.g. :data:`SHOW_PATIENT_NAMES`.
        value: The new value.
        by: The admin who changes it.
        client: Where the change came from (the browser's address).

    Returns:
        The new value.

    """
    setting = session.get(AppSetting, key)
    old = bool(setting is not None and setting.value)
    if setting is None:
        session.add(AppSetting(key=key, value=value))
    else:
        setting.value = value
        setting.updated_at = utc_now()
    if old != value:
        audit.record(
            session, "setting", by=by, key=key, old={"value": old}, new={"value": value},
            client=client,
        )  # fmt: skip
    return value
