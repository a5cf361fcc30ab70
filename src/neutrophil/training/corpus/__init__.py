"""Text written for the training sets: harmful requests with refusals, helpful Q&A, coding tasks."""
