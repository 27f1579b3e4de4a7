"""What every connector needs and none should write again."""
