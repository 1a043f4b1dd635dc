"""Settings for every test session."""

from hypothesis import settings

# Timing never decides a test here: on a busy 2-core machine hypothesis's 200 ms per-example deadline
# fails correct code now and then. The examples and their shrinking are unchanged.
settings.register_profile("adt", deadline=None)
settings.load_profile("adt")
