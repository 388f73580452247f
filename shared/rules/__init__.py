"""The regulation's rules, free of frameworks: the Kazakhstan calendar, the time limits of Приложение 1,
guardianship, the clinics file (see shared/README.md)."""
