"""One module per DVC stage: the body a thin `ganops` command calls (see README, "Where the code of a stage is")."""
