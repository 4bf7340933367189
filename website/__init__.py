"""The website server: the therapist's demo page with the chat widget, and the staff inbox."""

#: The error format of every route, and Sanic's fallback: JSON. Given on each route because Sanic 21.12
#: otherwise guesses one at every registration by reading the handler's source and parsing it
#: (inspect.getsource and ast: about 45 ms an app start, most of a staff test's set-up); its guess for
#: Haven's handlers was always "none", which meant this fallback.
ERROR_FORMAT = "json"
