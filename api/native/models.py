"""Shapes only the native dialect has: query parameters, the delete-file body, and its error
bodies. The shared request and response models are in `app.schemas`; both feed the OpenAPI
document (`api.native.openapi`) and the request validation, so the two cannot drift apart."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TagNameQuery(BaseModel):
    tag_name: str = Field(min_length=1, max_length=255, description="the tag (recording session) name")


class TagQuery(BaseModel):
    name: str = Field(min_length=1, max_length=255, description="the tag name")


class VideoQuery(BaseModel):
    delay: float = Field(1.0, ge=0.0, le=60.0,
                         description="seconds between two pictures of the stream (may be fractional)")


class DeleteFileIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    location: str = Field(min_length=1, max_length=4096,
                          description="must equal the record's `location`")


class ValidationErrorItem(BaseModel):
    loc: list[str | int] = Field(description='where: `["body", "name"]`, `["path", "source_id"]`, '
                                             '`["query", "tag_name"]`')
    msg: str
    type: str = Field(description="pydantic v2 error type: `missing`, `string_type`, `enum` ...")


class HTTPValidationError(BaseModel):
    """422: the request does not fit (FastAPI's shape); nothing was changed."""

    detail: list[ValidationErrorItem]


class ErrorMessage(BaseModel):
    """401, 404, 405, 413, 507: a sentence saying what went wrong."""

    detail: str
