"""Batch spotting of a season archive (`soccerspot archive`): discovery, manifest, engines, summary."""
