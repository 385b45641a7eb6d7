"""Reports that show results: timeline plots per half, evaluation plots, highlight reels with chapters."""
