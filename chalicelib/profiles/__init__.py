"""A learner's profile (/me): display name, grade level, language, time zone."""
