"""Linking a dataset's head data to a head model: which model, its field sizes, and a hash check."""

from __future__ import annotations

from next3d.data.schema import HEAD_FIELDS, HeadSection
from next3d.errors import BadInputError

BUILTIN = "builtin"


def load_head(name: str):
    """The head model called `name`: 'builtin' (the shipped head) or a head model file."""
    from next3d.head import load_default_head
    from next3d.head import load_head as load_head_file

    return load_default_head() if name == BUILTIN else load_head_file(name)


def head_section_for(head) -> HeadSection:
    """The dataset.json head section describing vectors of `head` (HeadParams.to_vector order)."""
    from next3d.head.params import sizes_for

    sizes = sizes_for(head)
    return HeadSection(HEAD_FIELDS, tuple(sizes[f] for f in HEAD_FIELDS), head.name, head.content_hash())


def head_for_section(section: HeadSection | None, head=None):
    """The head model for a dataset's head section: `head` if given (checked), else the built-in one."""
    if head is None:
        from next3d.head import load_default_head

        head = load_default_head()
        if section is not None and section.model_hash not in (None, head.content_hash()):
            raise BadInputError(f"the dataset's head parameters belong to head model '{section.model_name}' "
                                f"(hash {section.model_hash[:12]}), not the built-in head; pass that head model")
    if section is not None:
        expected = head_section_for(head)
        if section.sizes != expected.sizes:
            raise BadInputError(f"the dataset's head vectors have sizes {dict(zip(section.fields, section.sizes))} "
                                f"but head '{head.name}' takes {dict(zip(expected.fields, expected.sizes))}")
        if section.model_hash is not None and section.model_hash != expected.model_hash:
            raise BadInputError(f"the dataset's head parameters belong to head model '{section.model_name}' "
                                f"(hash {section.model_hash[:12]}), but head '{head.name}' has hash "
                                f"{expected.model_hash[:12]}")
    return head
