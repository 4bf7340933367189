"""Haven: shared code for the action server, the NLU components and the website server."""
