"""Texts the engine itself says (in the bot's source language; translated like scenario texts)."""

from __future__ import annotations

BUTTON_EXPIRED = "This button has expired."
NOT_YOUR_BUTTON = "This button is not for you."
LIST_CHANGED = "This list has changed. Please choose again."
DID_NOT_UNDERSTAND = "Sorry, I did not understand that."
SOMETHING_WENT_WRONG = "Sorry, something went wrong. Please try again."
YES, NO = "Yes", "No"
SHARE_CONTACT = "📱 Share my phone number"
SHARE_LOCATION = "📍 Share my location"

RETRY = {
    "text": "Please send your answer as a text message.",
    "number": "Please send a number.",
    "integer": "Please send a whole number.",
    "email": "Please send an email address, like name@example.com.",
    "phone": "Please send a phone number, like +49 30 1234567.",
    "date": "Please send a date, like 2025-12-24.",
    "yes_no": "Please answer yes or no.",
    "choice": "Please choose one of the options.",
    "contact": "Please tap the button to share your phone number.",
    "location": "Please tap the button to share your location.",
    "photo": "Please send a photo.",
    "document": "Please send a file.",
}
KEYBOARD_CARRIER = "👇"  # a message only to carry a keyboard Telegram cannot attach elsewhere

# Privacy commands (enabled by `privacy:` in a scenario).
MYDATA_DESCRIPTION = "Get the data this bot stores about you"
FORGETME_DESCRIPTION = "Delete everything this bot stores about you"
MYDATA_SENT = "Here is everything this bot stores about you."
MYDATA_PRIVATE = "Please ask me in a private chat: your data is sent only there."
FORGET_CONFIRM = "Delete everything this bot stores about you? This cannot be undone."
FORGET_YES = "🗑 Yes, delete everything"
FORGET_NO = "Cancel"
FORGOTTEN = "Done: everything this bot stored about you is deleted. Send /start to begin again."
FORGET_CANCELLED = "Nothing was deleted."

# Alerts to the operators (BOT_ALERT_CHAT or the BOT_ADMINS; engine/ops/alerts.py), in the
# bot's language; %(…)s values are filled in by the engine, never by a template.
ALERT_FIRST = "⚠️ %(bot)s: a problem (%(kind)s)"
ALERT_SUMMARY = "⚠️ %(bot)s: problems since %(since)s UTC"
ALERT_COUNT = ("%(kind)s: %(count)s time", "%(kind)s: %(count)s times")
ALERT_LAST = "Last: %(problem)s"
ALERT_NEXT = "More problems come as one summary at most every %(interval)s. Details: the bot's log."
