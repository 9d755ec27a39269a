"""Operator tools as plain functions over the store: the command line, admin commands in
Telegram and an admin panel all call these, so each action is checked and audited once."""
