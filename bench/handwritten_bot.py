"""scenarios/hello.yaml written by hand with pyTelegramBotAPI: handlers plus telebot's own
in-memory state storage (StateMemoryStorage and StateFilter), the way its docs show. It gives
the replies the engine gives for the same updates; bench/e2e.py races the two.

Run on its own: TELEGRAM_BOT_TOKEN=... TELEGRAM_API_URL=http://127.0.0.1:8081 \
python bench/handwritten_bot.py  (long polling until SIGTERM, telebot's defaults: threaded)."""

from __future__ import annotations

import html
import os

import telebot
from telebot import apihelper, custom_filters, types
from telebot.states import State, StatesGroup
from telebot.storage import StateMemoryStorage

GREETING = "Hi {}! 👋 Would you like a joke?"
JOKE = "Why did the bot cross the road? To get to the other <b>state</b>."
BYE = "Have a nice day! Send /start whenever you want to talk again."
SORRY = "Sorry, I did not understand that."


class Talk(StatesGroup):
    hello = State()
    joke = State()


def _keys(*rows: list[tuple[str, str]]) -> types.InlineKeyboardMarkup:
    markup = types.InlineKeyboardMarkup()
    for row in rows:
        markup.row(*(types.InlineKeyboardButton(t, callback_data=d) for t, d in row))
    return markup


GREETING_KEYS = [("😄 Yes please", "yes"), ("👋 No thanks", "no")]
JOKE_KEYS = [("👋 Thanks and goodbye", "bye")]


def make_bot(token: str, threaded: bool = True) -> telebot.TeleBot:
    bot = telebot.TeleBot(token, threaded=threaded, state_storage=StateMemoryStorage())
    bot.add_custom_filter(custom_filters.StateFilter(bot))

    def edit(
        call: types.CallbackQuery, text: str, markup: types.InlineKeyboardMarkup | None
    ) -> None:
        bot.answer_callback_query(call.id)
        message = call.message
        bot.edit_message_text(
            text, message.chat.id, message.message_id, parse_mode="HTML", reply_markup=markup
        )

    @bot.message_handler(state=[Talk.hello, Talk.joke])
    def not_understood(message: types.Message) -> None:
        bot.send_message(message.chat.id, SORRY)

    # the state is set before the reply goes out: the user's next update can arrive (and be
    # handled by another of telebot's threads) as soon as the reply is sent
    @bot.message_handler(func=lambda message: True)  # no conversation yet (or it ended)
    def hello(message: types.Message) -> None:
        name = html.escape(message.from_user.first_name if message.from_user else "")
        bot.set_state(message.from_user.id, Talk.hello, message.chat.id)
        bot.send_message(
            message.chat.id,
            GREETING.format(name),
            parse_mode="HTML",
            reply_markup=_keys(GREETING_KEYS),
        )

    @bot.callback_query_handler(func=lambda call: call.data == "yes", state=Talk.hello)
    def joke(call: types.CallbackQuery) -> None:
        bot.set_state(call.from_user.id, Talk.joke, call.message.chat.id)
        edit(call, JOKE, _keys(JOKE_KEYS))

    @bot.callback_query_handler(
        func=lambda call: call.data in ("no", "bye"), state=[Talk.hello, Talk.joke]
    )
    def bye(call: types.CallbackQuery) -> None:
        bot.delete_state(call.from_user.id, call.message.chat.id)
        edit(call, BYE, None)

    @bot.callback_query_handler(func=lambda call: True)  # a button of an earlier visit
    def stale(call: types.CallbackQuery) -> None:
        bot.answer_callback_query(call.id)

    return bot


if __name__ == "__main__":
    apihelper.API_URL = os.environ["TELEGRAM_API_URL"].rstrip("/") + "/bot{0}/{1}"
    make_bot(os.environ["TELEGRAM_BOT_TOKEN"]).infinity_polling(timeout=10, long_polling_timeout=1)
