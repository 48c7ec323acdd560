"""One process's pipeline: the chosen stages assembled into one FastStream app.

Entry level, below its two users: ``kopdes-match run`` (services/cli) and the demo
(services/demo), which the command line also starts. Kept apart from both so that the demo
need not import the command line that imports it.
"""
