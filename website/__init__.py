"""The website server: the therapist's demo page with the chat widget, and the staff inbox."""
