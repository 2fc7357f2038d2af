"""Real exceptions with known answers (issue 19): planted-bug programs, their captured output, the scoring."""
