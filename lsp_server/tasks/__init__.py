"""Turn a task into a prompt, and a model's answer back into text or checked edits (no pygls here)."""
