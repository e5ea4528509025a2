"""Twinstudy: study definition (spec, yamlfile) -> trial grid (design) and the prompts sent."""
