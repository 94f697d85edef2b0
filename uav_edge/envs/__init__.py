"""Training environments on the twin (gymnasium / PettingZoo APIs); numpy only, no torch."""
