"""Haven's custom actions, served by the rasa_sdk action server (`python -m rasa_sdk --actions actions`).

Importing this package loads and validates the vetted content once, so a malformed content file stops
the action server at start-up with a message naming the entry. The FAQ's example questions are encoded
when the server starts (haven/plugins/action_server.py), not here: importing an action module for a
test or a tool does not load the sentence encoder.
"""

from actions.knowledge import knowledge_base
from haven.services import faq
from haven.services.content import ContentError

try:
    knowledge_base()
    faq.load()  # the practice's FAQ: validated (the matcher is built when the server starts)
except (ContentError, faq.FaqError) as error:
    raise SystemExit(f"Haven cannot start the action server: {error}") from error
