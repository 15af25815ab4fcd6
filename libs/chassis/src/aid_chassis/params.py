"""Bounds for numbers that reach PostgreSQL: a larger one is refused with a 422 naming the field,
never passed on to fail in the driver as a server error."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

INT4_MAX = 2**31 - 1  # an INTEGER column's largest value
RowNumber = Annotated[int, Path(ge=1, le=INT4_MAX, description="a positive whole number")]
