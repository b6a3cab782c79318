"""The chaos run at scale and the soak: their runners, what they read from /proc, how
they wait for quiet and how the soak judges a growth trend (docs/reliability.md)."""
