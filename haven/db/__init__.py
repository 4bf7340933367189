"""Haven's application database: bookings, hand-off requests and safety events.

Callers use haven.db.repository only (plain records in, plain records out); haven.db.migrate
brings the schema up to date and is called by every server at start.
"""
