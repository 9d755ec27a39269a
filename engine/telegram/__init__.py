"""The Telegram adapter: Bot API calls through pyTelegramBotAPI's HTTP layer, raw updates
turned into core events, and core effects turned into Bot API calls. No Telegram type
crosses into the core."""

from engine.telegram.bot_api import ApiError, BotApi
from engine.telegram.calls import ApiCall, api_calls
from engine.telegram.updates import allowed_updates, parse_update

__all__ = ["ApiCall", "ApiError", "BotApi", "allowed_updates", "api_calls", "parse_update"]
