"""The libraries users have, under harness (issue 10): one module of apps per library."""
