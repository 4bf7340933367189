"""Haven's custom Rasa NLU graph components (listed by dotted path in config.yml)."""
