"""Haven's custom actions, served by the rasa_sdk action server (`python -m rasa_sdk --actions actions`).

Importing this package loads and validates the vetted content once, so a malformed content file stops
the action server at start-up with a message naming the entry.
"""

from actions.knowledge import knowledge_base
from haven.services import faq
from haven.services.content import ContentError

try:
    knowledge_base()
    faq.store().current()  # the practice's FAQ: validated and its example questions encoded at start
except (ContentError, faq.FaqError) as error:
    raise SystemExit(f"Haven cannot start the action server: {error}") from error
