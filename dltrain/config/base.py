"""The base class every config section derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A frozen, strict config section: unknown keys are errors, not warnings."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def tagged_union(field: str, *members: type[BaseModel], default: str | None = None):
    """A discriminated union on `field`; when the key is absent, `default` is the tag.

    So `optimizer: {learning_rate: 1e-4}` (or `--set train.optimizer.learning_rate=1e-4`)
    means the default optimiser, while a wrong tag is still an error with the options.
    """
    from typing import Annotated, Union

    from pydantic import Discriminator, Tag

    def tag_of(value):
        if isinstance(value, dict):
            return value.get(field, default)
        return getattr(value, field, None)

    tag_of.__name__ = field
    tagged = tuple(Annotated[m, Tag(m.model_fields[field].default)] for m in members)
    return Annotated[Union[tagged], Discriminator(tag_of)]  # noqa: UP007


def keyed_union(what: str, *members: type[BaseModel]):
    """A union of one-key sections told apart by their key, e.g. `{flip: horizontal}`.

    A wrong key is one error with the options and a did-you-mean, not one per member.
    """
    from typing import Annotated, Union

    from pydantic import Discriminator, Tag

    def key_of(value):
        if isinstance(value, dict):
            return next(iter(value), None) if len(value) == 1 else "+".join(map(str, value))
        return next(iter(type(value).model_fields), None)

    key_of.__name__ = what
    tagged = tuple(Annotated[m, Tag(next(iter(m.model_fields)))] for m in members)
    return Annotated[Union[tagged], Discriminator(key_of)]  # noqa: UP007


def union_members(annotation) -> tuple[type[BaseModel], ...]:
    """The model classes of a (possibly Annotated, possibly single-member) union."""
    import types
    from typing import Annotated, Union, get_args, get_origin

    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) is Union or isinstance(annotation, types.UnionType):
        members = get_args(annotation)
    else:
        members = (annotation,)
    out = []
    for m in members:
        if get_origin(m) is Annotated:
            m = get_args(m)[0]
        if isinstance(m, type):
            out.append(m)
    return tuple(out)


def union_tags(annotation, field: str) -> list[str]:
    """The tag values of a discriminated union, e.g. the architecture names."""
    return [m.model_fields[field].default for m in union_members(annotation)]
