"""Parse the text of the ``--columns`` option (reading itself is :func:`engine.data.load.load`)."""

from __future__ import annotations

from engine.data.readers.columns import check_roles
from engine.errors import InputError


def parse_columns(text: str | None) -> dict[str, str]:
    """Parse ``--columns`` text ``role=COLUMN,role=COLUMN`` into ``{role: column}``.

    Roles are those of :data:`~engine.data.readers.columns.ROLES`; spaces around names are
    ignored, column names keep their case.
    """
    mapping: dict[str, str] = {}
    for entry in (text or "").split(","):
        if not entry.strip():
            continue
        role, sep, column = entry.partition("=")
        role, column = role.strip().lower(), column.strip()
        if not sep or not role or not column:
            msg = (
                f"--columns entry {entry.strip()!r} is not of the form ROLE=COLUMN "
                "(e.g. --columns object_id=ID,time=MJD,band=FLT,mag=M,mag_err=E)"
            )
            raise InputError(msg)
        if role in mapping:
            msg = f"--columns gives {role!r} twice ({mapping[role]!r} and {column!r})"
            raise InputError(msg)
        mapping[role] = column
    check_roles(mapping)
    return mapping
