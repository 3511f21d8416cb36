"""Command-line flags from a dataclass: one flag per field, --field-name, with the field's default and
type and the help, choices and argument group of its metadata. The settings are declared once, as
typed fields a library call takes, and a command's parser is made from them. Pure: argparse only.

    @dataclass
    class Settings:
        data: str = option(help="data directory")                          # no default: required
        lr: float = option(7e-6, help="peak learning rate", group="optimizer")
        fp16: bool = option(False, help="float16", group="runtime", exclusive="precision")
        eval_split: str = option("test", help="split scored", flag="--split", aliases=("--eval-split",))

    add_dataclass_arguments(argparse.ArgumentParser(), Settings)
"""

import argparse
import dataclasses
import typing

# the metadata keys add_dataclass_arguments reads
HELP, CHOICES, GROUP, EXCLUSIVE, NEGATABLE = "help", "choices", "group", "exclusive", "negatable"
FLAG, ALIASES = "flag", "aliases"


def option(default=dataclasses.MISSING, help=None, **metadata):
    """A dataclass field that is also a flag: `default` (none: a required flag), its help text, and
    choices, group (an argument group's title), exclusive (fields naming the same key exclude each
    other), negatable (a bool field with --no-NAME too), flag (the flag's name where it is not
    --field-name, the one name of that meaning across the commands) or aliases (other spellings it
    also accepts, e.g. an earlier name) as keyword arguments."""
    return dataclasses.field(default=default, metadata={HELP: help, **metadata})


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def field_flags(field: dataclasses.Field) -> list:
    """The field's flag (its metadata's flag, else --field-name), then its aliases."""
    return [field.metadata.get(FLAG) or flag_name(field.name), *field.metadata.get(ALIASES, ())]


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls) -> argparse.ArgumentParser:
    """One argument per field of the dataclass cls, in the fields' order, its dest the field's name
    (its flag --field-name, or the metadata's flag, and any aliases):
    required without a default; a bool field a switch (store_true, or --NAME / --no-NAME when
    negatable); an int or float field (Optional too) converts its value; a str field none. Groups
    are made at their first field, mutually exclusive ones inside the group of their first field."""
    hints = typing.get_type_hints(cls)
    groups, exclusive = {}, {}
    for field in dataclasses.fields(cls):
        target = parser
        title = field.metadata.get(GROUP)
        if title:
            if title not in groups:
                groups[title] = parser.add_argument_group(title)
            target = groups[title]
        key = field.metadata.get(EXCLUSIVE)
        if key:
            if key not in exclusive:
                exclusive[key] = target.add_mutually_exclusive_group()
            target = exclusive[key]
        target.add_argument(*field_flags(field), dest=field.name, **_argument(field, hints[field.name]))
    return parser


def _argument(field: dataclasses.Field, annotation) -> dict:
    """add_argument's keywords for a field."""
    kwargs = {HELP: field.metadata.get(HELP)}
    if CHOICES in field.metadata:
        kwargs[CHOICES] = field.metadata[CHOICES]
    if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
        kwargs["required"] = True
    else:
        kwargs["default"] = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    kind = _value_type(annotation)
    if kind is bool:
        kwargs["action"] = argparse.BooleanOptionalAction if field.metadata.get(NEGATABLE) else "store_true"
    elif kind in (int, float):
        kwargs["type"] = kind
    if FLAG in field.metadata and kind is not bool and CHOICES not in field.metadata:
        kwargs["metavar"] = field.metadata[FLAG].lstrip("-").replace("-", "_").upper()  # not the field's name
    return kwargs


def _value_type(annotation):
    """int for int and Optional[int], and so on."""
    if typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation
