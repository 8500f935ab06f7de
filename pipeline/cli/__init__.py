"""The command line, one of the two faces over the conductor (the other is `pipeline.tasks`).

`main` holds the group; each module holds the commands of one concern; `database` is the
store they share.
"""
