"""Institutions (机构维护): bureaus list their schools; a county bureau adds, names and removes them."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from aid_chassis.app import session
from aid_chassis.auth import BUREAUS, Principal, Role, allow
from aid_contracts import labels
from identity_matching.service_layer import institutions

router = APIRouter(prefix="/institutions", tags=["机构 institutions"])
COUNTY = allow(Role.COUNTY_BUREAU)
Stage = Literal[tuple(labels.STAGE)]  # type: ignore[valid-type]


class NewSchool(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="学校名称")
    stage: Stage = Field(description="学段: a primary school with a preschool class is two institutions")


class Name(BaseModel):
    name: str = Field(min_length=1, max_length=100)


@contextmanager
def _refusals():
    try:
        yield
    except LookupError as exc:
        raise HTTPException(404, {"code": "not_found", "message": str(exc)}) from None
    except institutions.InstitutionRefused as exc:
        status = 409 if exc.code == "has_students" else 422
        raise HTTPException(status, {"code": exc.code, "message": str(exc)}) from None


@router.get("", summary="Schools in my jurisdiction with their students on the roster (机构列表)")
async def listing(stage: Stage | None = None, removed: bool = False, db=Depends(session),
                  who: Principal = Depends(allow(*BUREAUS))) -> dict:
    items = await institutions.listing(db, who, stage=stage, removed=removed)
    return {"total": len(items), "items": items}


@router.post("", summary="Add a school the roster lacks (添加机构; code = the bureau's 8 digits + 4)", status_code=201)
async def add(body: NewSchool, db=Depends(session), who: Principal = Depends(COUNTY)) -> dict:
    with _refusals():
        async with db.begin():
            return await institutions.add_school(db, who, name=body.name, stage=body.stage)


@router.put("/{code}/{stage}", summary="Name a school (学校名称)")
async def rename(code: str, stage: Stage, body: Name, db=Depends(session), who: Principal = Depends(COUNTY)) -> dict:
    with _refusals():
        async with db.begin():
            return await institutions.rename(db, who, code, stage, body.name)


@router.delete("/{code}/{stage}", summary="Remove a school without students (有学生的学校不能删除)")
async def remove(code: str, stage: Stage, db=Depends(session), who: Principal = Depends(COUNTY)) -> dict:
    with _refusals():
        async with db.begin():
            return await institutions.remove(db, who, code, stage)
