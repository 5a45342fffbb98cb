"""The base class every config section derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A frozen, strict config section: unknown keys are errors, not warnings."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def union_members(annotation) -> tuple[type[BaseModel], ...]:
    """The model classes of a (possibly Annotated, possibly single-member) union."""
    from typing import Annotated, Union, get_args, get_origin

    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation)
    if origin is Union or (origin is not None and getattr(origin, "__name__", "") == "UnionType"):
        return tuple(a for a in get_args(annotation) if isinstance(a, type))
    import types

    if isinstance(annotation, types.UnionType):
        return tuple(a for a in get_args(annotation) if isinstance(a, type))
    return (annotation,)


def union_tags(annotation, field: str) -> list[str]:
    """The tag values of a discriminated union, e.g. the architecture names."""
    tags = []
    for member in union_members(annotation):
        default = member.model_fields[field].default
        tags.append(default)
    return tags
