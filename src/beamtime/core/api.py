from datetime import datetime
from typing import Literal

from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from beamtime.core.access import api_key_for_user
from beamtime.core.models import ApiKey

router = Router(tags=["accounts"])


class UserOut(Schema):
    username: str
    first_name: str
    last_name: str
    email: str
    is_staff: bool


class KeyIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Literal["read", "write:fplane"]] = Field(default=["read"], min_length=1)


class KeyOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    scopes: list[str]


class NewKeyOut(KeyOut):
    key: str


@router.get("/me", response=UserOut, summary="The authenticated user")
def me(request):
    return request.user


@router.get("/keys", response=list[KeyOut], summary="Your API keys (prefix only)")
def list_keys(request):
    return ApiKey.objects.filter(user=request.user)


@router.post(
    "/keys", response={201: NewKeyOut}, summary="Create an API key; the key is shown only here"
)
def create_key(request, payload: KeyIn):
    if getattr(request, "api_key", None) is not None:
        # A leaked key must not be able to mint keys that outlive its revocation.
        raise HttpError(403, "keys are created signed in (Account → API keys), not with a key")
    row, key = ApiKey.issue(request.user, payload.name.strip(), payload.scopes)
    return Status(201, {**KeyOut.model_validate(row).model_dump(), "key": key})


@router.delete("/keys/{key_id}", response=KeyOut, summary="Revoke one of your API keys")
def revoke_key(request, key_id: int):
    row = api_key_for_user(request.user, key_id)
    row.revoke()
    return row
