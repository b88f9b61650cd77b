"""Help screens without a `<bool>` type beside every flag (typer's rich help prints the type
of each option, which says nothing for an on/off switch)."""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup


def _untyped_flags(params: list[Any]) -> list[Any]:
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""  # the rich help shows the metavar in place of the type
    return params


class FlagsWithoutTypes(TyperGroup):
    """The command group: its own and every subcommand's flags are shown without a type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and not getattr(command, "_flags_untyped", False):
            original = command.get_params

            def get_params(ctx: Any) -> list[Any]:
                return _untyped_flags(original(ctx))

            command.get_params = get_params
            command._flags_untyped = True
        return command
