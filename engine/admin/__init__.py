"""Operator tools (broadcasts, statistics, flags, roles): plain functions over the store that
the command line, admin commands in Telegram and the admin panel all call."""
