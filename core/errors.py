"""Errors shared across the platform."""


class CommandError(Exception):
    """A command cannot go on because of something the user can fix; the message says what."""
